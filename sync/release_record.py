"""A Kru release bundle's signature record (issue 20): made offline, checked by both ends.

A release is the Pi bundle of ``deploy/raspberrypi/build-bundle.sh --tar``
(``kru-bundle-VERSION-ARCH.tar.gz``). Its signature lives beside it in
``kru-bundle-VERSION-ARCH.tar.gz.sig``, JSON::

    {"format": "kru-release/1", "version": "0.2.0", "arch": "aarch64",
     "sha256": "<of the .tar.gz>", "size": 61234567,
     "algorithm": "ed25519", "public_key": "<base64>", "signature": "<base64>"}

The Ed25519 signature (the ``cryptography`` library, the same keys as ``kru pack keygen``
makes) covers the canonical JSON of the first five fields: keys sorted, no spaces, UTF-8.
The sha256 covers every byte of the bundle, and the bundle's own ``SHA256SUMS`` covers each
file inside it. Sites trust the public keys in their config directory
(``/etc/kru/release-keys/*.pub``, one base64 key per file, installed from the image); the
private key stays on the ministry's offline machine. No database, no Flask.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_server.base.errors import N_, ValidationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FORMAT = "kru-release/1"
SIG_SUFFIX = ".sig"
KEY_SUFFIX = ".pub"
SIGNED_FIELDS = ("format", "version", "arch", "sha256", "size")
MAX_SIG_BYTES = 4096
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:[.+-][0-9A-Za-z.+-]{1,40})?$")
ARCH_RE = re.compile(r"^[a-z0-9_]{1,20}$")
BUNDLE_RE = re.compile(r"^kru-bundle-(?P<version>[^/]+)-(?P<arch>[a-z0-9_]+)\.tar\.gz$")
_CHUNK = 1024 * 1024

# Why an upgrade did not happen or was rolled back: the stable codes the root side
# (deploy/raspberrypi/bin/kru-upgrade) writes to releases/state.json as ``code``, and the site
# (helper_failed) when the root helper cannot be asked. The Site page and central's Releases
# page show these words (translated); the English detail of ``reason`` goes beside them.
UPGRADE_REASONS: dict[str, str] = {
    "health_failed": N_("The new version did not answer its health check; the Pi went back"),
    "start_failed": N_("The new version did not start; the Pi went back"),
    "migration_failed": N_("The new version could not update the database; the Pi went back"),
    "interrupted": N_(
        "The power was cut during the upgrade; at the next start the Pi went back to the version"
        " it ran"
    ),
    "bad_signature": N_("The release is not signed by a key this Pi trusts, or is damaged"),
    "wrong_arch": N_("The release is built for another kind of Pi"),
    "damaged": N_("The release bundle is damaged: copy or download it again"),
    "unreadable": N_("The staged release could not be read"),
    "install_failed": N_("Installing the new version failed; nothing changed"),
    "backup_failed": N_("The database backup before the upgrade failed; nothing changed"),
    "no_current": N_("This Pi was not installed for upgrades: run install.sh once"),
    "helper_failed": N_("The Pi could not start the upgrade (root helper)"),
}


# Why rows a failed upgrade wrote were not carried back into the restored database (the
# ``why`` of each ``not_carried`` entry deploy/raspberrypi/bin/kru-carry-back reports; the Site
# page shows these words, translated, with the table and the number of rows).
NOT_CARRIED_REASONS: dict[str, str] = {
    "new_table": N_(
        "the table is new in the failed version; the older version has no place for them"
    ),
    "shape": N_("they do not fit the table of the older version"),
    "parent": N_("what they belong to (an account, a cohort) did not come back"),
    "changed": N_("rows changed after the switch; the older copy is kept"),
    "content": N_("packs installed after the switch: install them again"),
    "columns": N_("carried back without the columns the older version does not have"),
    "older": N_(
        "changed after the switch, but the older copy has a later time (was the Pi's clock"
        " wrong?); the older copy is kept"
    ),
    "conflict": N_(
        "changed after the switch, but the older version does not allow the change (a name or"
        " code another record holds, a value it does not know); the older copy is kept"
    ),
    "changed_parent": N_(
        "changed after the switch to point at something that did not come back; the older"
        " copy is kept"
    ),
}

# What the Site page calls each table of user data a rollback carries back (kru-carry-back's
# ``carried``, ``merged`` and ``not_carried``), translated; a table not named here is shown by
# its database name.
TABLE_WORDS: dict[str, str] = {
    "users": N_("accounts"),
    "events": N_("learning records"),
    "task_submissions": N_("submitted work"),
    "task_files": N_("files of submitted work"),
    "f2f_attendance": N_("attendance"),
    "f2f_sessions": N_("class sessions"),
    "certificates": N_("certificates"),
    "cohorts": N_("cohorts"),
    "cohort_members": N_("cohort members"),
    "cohort_instructors": N_("cohort instructors"),
    "course_assignments": N_("courses assigned to cohorts"),
    "mentor_students": N_("mentors and their student teachers"),
    "discussion_posts": N_("discussion posts"),
    "discussion_reports": N_("reported discussion posts"),
    "quiz_answers": N_("quiz answers"),
    "scorm_state": N_("progress in interactive lessons"),
    "authoring_drafts": N_("course drafts"),
    "authoring_modules": N_("modules of course drafts"),
    "authoring_items": N_("lessons of course drafts"),
    "authoring_media": N_("media of course drafts"),
    "authoring_publications": N_("published course drafts"),
    "packs": N_("content packs"),
    "pack_files": N_("files of content packs"),
    "courses": N_("courses"),
    "modules": N_("modules"),
    "items": N_("lessons"),
}


def table_words(table: str) -> str:
    """Return the untranslated words for a table of user data ("" when it has none)."""
    return TABLE_WORDS.get(table, "")


def upgrade_reason(code: str) -> str:
    """Return the untranslated words for an upgrade reason ``code`` ("" when unknown)."""
    return UPGRADE_REASONS.get(code, "")


class BadRelease(ValidationError):
    code = "bad_release"


class UntrustedRelease(ValidationError):
    code = "release_untrusted"


class UntrustedSigner(UntrustedRelease):
    """Central refuses a release its own trusted keys did not sign (the sites would too)."""

    code = "release_untrusted_signer"


@dataclass(frozen=True)
class Release:
    """A verified (or just read) release: what its signature record says."""

    version: str
    arch: str
    sha256: str
    size: int
    public_key: str
    record: dict[str, Any]

    def record_bytes(self) -> bytes:
        return json.dumps(self.record, indent=1, sort_keys=True).encode("utf-8")


def canonical(record: dict[str, Any]) -> bytes:
    """Return the bytes the signature covers."""
    signed = {k: record[k] for k in SIGNED_FIELDS}
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode("utf-8")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sig_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + SIG_SUFFIX)


def read_bundle_facts(bundle: Path) -> tuple[str, str]:
    """Return (version, arch) from the ``VERSION`` and ``ARCH`` files inside ``bundle``.

    Raises:
        BadRelease: not a gzip tar with one ``kru-bundle-*`` folder holding them.
    """
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            facts: dict[str, str] = {}
            for member in tar:
                parts = member.name.strip("./").split("/")
                if len(parts) == 2 and parts[1] in ("VERSION", "ARCH") and member.isfile():
                    if not parts[0].startswith("kru-bundle-") or member.size > 100:
                        break
                    fh = tar.extractfile(member)
                    facts[parts[1]] = fh.read().decode("ascii").strip() if fh else ""
                if len(facts) == 2:
                    break
    except (OSError, tarfile.TarError, UnicodeDecodeError, EOFError) as exc:
        raise BadRelease(
            N_("%(file)s is not a Kru bundle (.tar.gz from build-bundle.sh --tar)"),
            file=bundle.name,
        ) from exc
    version, arch = facts.get("VERSION", ""), facts.get("ARCH", "")
    if not VERSION_RE.match(version) or not ARCH_RE.match(arch):
        raise BadRelease(
            N_("%(file)s is not a Kru bundle (no VERSION and ARCH inside)"), file=bundle.name
        )
    return version, arch


def sign(bundle: Path, key: Ed25519PrivateKey) -> Release:
    """Return the signature record of ``bundle`` signed with ``key`` (written by the caller).

    Raises:
        BadRelease: ``bundle`` is not a Kru bundle.
    """
    from cryptography.hazmat.primitives import serialization

    version, arch = read_bundle_facts(bundle)
    record: dict[str, Any] = {
        "format": FORMAT,
        "version": version,
        "arch": arch,
        "sha256": file_sha256(bundle),
        "size": bundle.stat().st_size,
        "algorithm": "ed25519",
    }
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    record["public_key"] = base64.b64encode(raw).decode("ascii")
    record["signature"] = base64.b64encode(key.sign(canonical(record))).decode("ascii")
    return _release(record)


def _release(record: dict[str, Any]) -> Release:
    return Release(
        record["version"],
        record["arch"],
        record["sha256"],
        int(record["size"]),
        record["public_key"],
        record,
    )


def _decode_key(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def parse_record(data: bytes | str | dict[str, Any]) -> Release:
    """Return the release a signature record describes, its signature checked against its
    own key (not yet against the trusted keys).

    Raises:
        BadRelease: not a record of this format, or the signature does not verify.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    bad = BadRelease(N_("The release signature is damaged or not a Kru release signature"))
    try:
        record = data if isinstance(data, dict) else json.loads(data)
        ok = (
            record.get("format") == FORMAT
            and record.get("algorithm") == "ed25519"
            and isinstance(record.get("version"), str)
            and VERSION_RE.match(record["version"])
            and isinstance(record.get("arch"), str)
            and ARCH_RE.match(record["arch"])
            and isinstance(record.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", record["sha256"])
            and isinstance(record.get("size"), int)
            and record["size"] > 0
        )
        raw_key = _decode_key(str(record.get("public_key", "")))
        if not ok or raw_key is None:
            raise bad
        raw_sig = base64.b64decode(str(record.get("signature", "")), validate=True)
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, canonical(record))
    except (ValueError, TypeError, AttributeError, binascii.Error, InvalidSignature) as exc:
        raise bad from exc
    return _release(record)


def trusted_keys(keys_dir: Path) -> list[str]:
    """Return the release keys in ``keys_dir`` (``*.pub``, base64); [] when there is none."""
    return list(trusted_key_names(keys_dir))


def trusted_key_names(keys_dir: Path) -> dict[str, str]:
    """Return each trusted key of ``keys_dir`` with the name of its file (``ministry`` for
    ``ministry.pub``), in file-name order; {} when there is none."""
    try:
        files = sorted(Path(keys_dir).glob(f"*{KEY_SUFFIX}"))
    except OSError:
        return {}
    names: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if _decode_key(text) is not None:
            names.setdefault(text, path.stem)
    return names


def key_id(public_key: str) -> str:
    """Return the short id of a release key shown on pages and in listings: its first 12
    base64 characters (as ``kru release keygen`` prints the whole key)."""
    return public_key[:12]


def check_trusted(release: Release, keys: list[str]) -> None:
    """Raise unless ``release`` was signed by one of ``keys``.

    Raises:
        UntrustedRelease: no key is trusted, or the signer is not one of them.
    """
    if not keys:
        raise UntrustedRelease(
            N_("This Pi trusts no release key (none in its release-keys folder)"),
        )
    raw = _decode_key(release.public_key)
    if raw is None or not any(
        (k := _decode_key(text)) is not None and hmac.compare_digest(k, raw) for text in keys
    ):
        raise UntrustedRelease(
            N_("Release %(version)s is signed by a key this Pi does not trust (%(key)s)"),
            version=release.version,
            key=release.public_key,
        )


def verify(bundle: Path, sig: bytes, keys: list[str]) -> Release:
    """Return the release of ``bundle`` when ``sig`` is a trusted signature of exactly it.

    Raises:
        BadRelease: the record is damaged, or the file is not the one signed.
        UntrustedRelease: the signer is not trusted.
    """
    release = parse_record(sig)
    check_trusted(release, keys)
    if not bundle.is_file() or bundle.stat().st_size != release.size:
        raise BadRelease(
            N_("The bundle is not the one signed (size differs): copy it again"),
        )
    if not hmac.compare_digest(file_sha256(bundle), release.sha256):
        raise BadRelease(
            N_("The bundle is not the one signed (checksum differs): copy it again"),
        )
    return release


def version_key(version: str) -> tuple:
    """Return a sort key for release versions (numbers compare as numbers)."""
    main = re.split(r"[+-]", version, maxsplit=1)[0]
    return tuple(int(p) if p.isdigit() else 0 for p in main.split("."))
