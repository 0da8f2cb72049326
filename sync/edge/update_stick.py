"""The site's end of a "site update stick" (issue 20 item 5) and of a release on a USB stick.

Central writes ``kru-update/`` (``kru central stick write``, or its page): ``update.json``,
``packs/*.zip`` and ``release/kru-bundle-V-A.tar.gz`` with its ``.sig``. :func:`read` says
what a mounted stick holds; :func:`install` installs every pack on it (each checked as any
upload: every checksum, the signature under the site's policy; a pack this site has in that
version is left as it is) and stages the release for this Pi's architecture, if it is newer
than the one running, then asks the root helper to switch (``releases``). A bare bundle and
its ``.sig`` in the top folder of a stick (``kru-bundle-*.tar.gz``) is offered the same way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from content_packs.install import install_pack
from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_, KruError, NotFound

from .. import release_record as rr
from . import releases

log = logging.getLogger(__name__)

FOLDER = "kru-update"
INDEX = "update.json"
MAX_INDEX_BYTES = 256 * 1024


@dataclass
class StickOutcome:
    installed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    release: str = ""  # the version staged, "" when none


def _index(stick: Path) -> dict[str, Any] | None:
    path = stick / FOLDER / INDEX
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _inside(stick: Path, relative: Any) -> Path | None:
    """Return ``stick/kru-update/relative`` when it stays inside that folder, else None."""
    if not isinstance(relative, str):
        return None
    base = (stick / FOLDER).resolve()
    path = (base / relative).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None


def bundles(stick: Path) -> list[Path]:
    """Return the release bundles with a signature beside them on ``stick`` (newest first)."""
    found = [
        p
        for folder in (stick, stick / FOLDER / "release")
        for p in folder.glob("kru-bundle-*.tar.gz")
        if p.is_file() and rr.sig_path(p).is_file() and rr.BUNDLE_RE.match(p.name)
    ]

    def key(p: Path) -> tuple:
        match = rr.BUNDLE_RE.match(p.name)
        return rr.version_key(match["version"]) if match else ()

    return sorted(found, key=key, reverse=True)


def _version(name: str) -> str:
    match = rr.BUNDLE_RE.match(name)
    return match["version"] if match else ""


def read(stick: Path) -> dict[str, Any]:
    """Return what ``stick`` holds for this site: the update's index and the bundles."""
    index = _index(stick)
    mine = [b for b in bundles(stick) if b.name.endswith(f"-{releases.machine()}.tar.gz")]
    return {
        "index": index,
        "packs": [p for p in (index or {}).get("packs", []) if isinstance(p, dict)],
        "bundles": [{"name": b.name, "path": str(b), "version": _version(b.name)} for b in mine],
    }


def _sig(bundle: Path) -> bytes:
    try:
        return rr.sig_path(bundle).read_bytes()[: rr.MAX_SIG_BYTES + 1]
    except OSError as exc:
        raise rr.BadRelease(
            N_("No signature %(file)s beside the bundle"), file=rr.sig_path(bundle).name
        ) from exc


def apply_bundle(settings: Any, home: DataHome, stick: Path, name: str) -> str:
    """Check bundle ``name`` on ``stick``, stage it and ask the helper to switch; return the
    version.

    Raises:
        NotFound: no such bundle with a signature on the stick.
        BadRelease, UntrustedRelease, Conflict: as ``releases.stage`` (nothing changed).
        HelperFailed: the helper did not take the request.
    """
    chosen = next((b for b in bundles(stick) if b.name == name), None)
    if chosen is None:
        raise NotFound(
            N_("There is no signed Kru bundle %(name)s on the USB stick"),
            code="no_such_bundle",
            name=name,
        )
    made = releases.stage(settings, home, chosen, _sig(chosen))
    releases.apply(settings, home)
    return made.version


def install(settings: Any, home: DataHome, stick: Path) -> StickOutcome:
    """Install the packs of the update on ``stick`` and stage its release (see the module).

    Raises:
        NotFound: the stick holds no site update.
    """
    info = read(stick)
    if info["index"] is None:
        raise NotFound(
            N_("This USB stick holds no site update (no kru-update/update.json)"),
            code="no_site_update",
        )
    outcome = StickOutcome()
    for entry in info["packs"]:
        label = f"{entry.get('id', '?')} {entry.get('version', '')}".strip()
        path = _inside(stick, entry.get("file"))
        if path is None:
            outcome.failed.append((label, "the file is missing from the stick"))
            continue
        try:
            result = install_pack(path, settings, home)
        except KruError as exc:
            outcome.failed.append((label, exc.message))
            continue
        (outcome.unchanged if result.already_installed else outcome.installed).append(label)
    candidates = [Path(b["path"]) for b in info["bundles"]]
    candidates = [b for b in candidates if b.parent.name == "release"]
    if candidates:
        newest = candidates[0]
        match = rr.BUNDLE_RE.match(newest.name)
        running = releases.running_version()
        if match and rr.version_key(match["version"]) > rr.version_key(running):
            try:
                made = releases.stage(settings, home, newest, _sig(newest))
                releases.apply(settings, home)
                outcome.release = made.version
            except KruError as exc:
                outcome.failed.append((f"Kru {match['version']}", exc.message))
        elif match:
            outcome.unchanged.append(f"Kru {match['version']}")
    log.info(
        "site update stick: %s installed, %s unchanged, %s failed, release %s",
        len(outcome.installed),
        len(outcome.unchanged),
        len(outcome.failed),
        outcome.release or "-",
    )
    return outcome
