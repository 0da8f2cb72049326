"""The site side of packs sent by central (sync 1.2, docs/sync-protocol.md §10).

Central's manifest lists each pack assigned to this site with the sha256 of its manifest,
signature and files. For a pack this site does not have in that version, the agent fetches
only the files whose sha256 is not already in the content store (so a new version costs only
its changed files), each resumably: the bytes received so far stay in
``downloads/<sha256>.part`` and the next attempt asks for the rest with HTTP ``Range``.
Downloads keep within ``sync.daily_download_budget_mb`` and, when set, the time window
``sync.download_window``. When every file is here the pack zip is put together from the
store and the downloads and installed like any upload (``content_packs.install``: every
checksum, the signature under the site's policy, all or nothing). What the site has is kept
in ``downloads/packs.json`` and reported to central.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import requests

from content_packs.install import install_pack
from content_packs.manifest import MANIFEST, SIGNATURE
from content_packs.models import Pack
from content_packs.store import ContentStore
from edge_server.base.datahome import DataHome, write_file_atomically
from edge_server.base.errors import N_, KruError, ValidationError

from .. import assigned_protocol as ap
from .. import protocol
from . import local_versions

log = logging.getLogger(__name__)

DIR = "downloads"
STATE_FILE = "packs.json"
CHUNK = 64 * 1024
HEADER_BYTES = 700  # request and response headers of one file request

INSTALLED = "installed"
PENDING = "pending"
FAILED = "failed"


class OutOfBudget(Exception):
    """The daily download budget is used up (what was received so far is kept)."""


class BadWindow(ValidationError):
    code = "bad_download_window"


@dataclass
class PackOutcome:
    installed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bytes_received: int = 0


def downloads_dir(home: DataHome) -> Path:
    return home.root / DIR


def read_state(home: DataHome) -> dict[str, Any]:
    """Return the download state: ``{"day", "bytes", "packs": {id: {...}}}``."""
    try:
        data = json.loads((downloads_dir(home) / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    data.setdefault("day", "")
    data.setdefault("bytes", 0)
    data.setdefault("packs", {})
    return data


def write_state(home: DataHome, data: dict[str, Any]) -> None:
    write_file_atomically(downloads_dir(home) / STATE_FILE, json.dumps(data, indent=1), 0o644)


def download_budget(settings: Any) -> int:
    """Return the daily download budget in bytes (0 MB: the same as the upload budget)."""
    mb = settings["sync.daily_download_budget_mb"] or settings["sync.daily_budget_mb"]
    return int(mb * 1024 * 1024)


def parse_window(text: str) -> tuple[dtime, dtime] | None:
    """Return (start, end) of ``"HH:MM-HH:MM"`` (None when empty: any time).

    Raises:
        BadWindow: not two times joined by ``-``.
    """
    text = text.strip()
    if not text:
        return None
    try:
        start, end = (dtime.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as exc:
        raise BadWindow(
            N_("sync.download_window must look like 22:00-06:00, not %(value)s"), value=text
        ) from exc
    return start, end


def in_window(window: tuple[dtime, dtime] | None, now: datetime) -> bool:
    """Return whether local time ``now`` is inside ``window`` (which may wrap midnight)."""
    if window is None:
        return True
    start, end = window
    t = now.time()
    return start <= t < end if start <= end else (t >= start or t < end)


class Downloader:
    """Fetch files by sha256 from central, resumably, counting bytes against the budget."""

    def __init__(self, agent: Any, data: dict[str, Any]) -> None:
        self.agent = agent
        self.home: DataHome = agent.home
        self.dir = downloads_dir(self.home)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data = data
        self.budget = download_budget(agent.settings)
        self.received = 0
        today = time.strftime("%Y-%m-%d", time.localtime(agent.clock()))
        if data["day"] != today:
            data["day"], data["bytes"] = today, 0

    def done_path(self, sha256: str) -> Path:
        return self.dir / sha256

    def have(self, sha256: str) -> Path | None:
        """Return where ``sha256`` is on this site (store or downloads), or None."""
        store = ContentStore(self.home)
        if store.has(sha256):
            return store.path_for(sha256)
        done = self.done_path(sha256)
        return done if done.exists() else None

    def _count(self, n: int) -> None:
        self.data["bytes"] += n
        self.received += n

    def fetch(self, sha256: str) -> Path:
        """Download file ``sha256`` into ``downloads/`` (resuming a ``.part``); return its path.

        Raises:
            OutOfBudget: the budget ran out (the part is kept).
            requests.RequestException: the link failed (the part is kept).
            ValidationError: central sent other bytes than asked for (the part is removed).
        """
        part = self.dir / f"{sha256}.part"
        have = part.stat().st_size if part.exists() else 0
        if self.data["bytes"] + HEADER_BYTES >= self.budget:
            raise OutOfBudget
        path = ap.file_path(sha256)
        agent = self.agent
        headers = protocol.signed_headers(
            agent.identity.secret,
            "GET",
            path,
            agent.identity.device_id,
            protocol.NO_BATCH,
            b"",
            int(agent.clock() * 1000),
            agent.version,
            agent.machine,
        )
        if have:
            headers["Range"] = f"bytes={have}-"
        self._count(HEADER_BYTES)
        with agent.session.get(
            agent.url + path, headers=headers, timeout=agent.timeout, stream=True
        ) as response:
            if response.status_code == 416:  # the part is already whole
                pass
            elif response.status_code not in (200, 206):
                raise ValidationError(
                    N_("central answered %(status)s for file %(file)s"),
                    status=response.status_code,
                    file=sha256[:12],
                )
            else:
                mode = "ab" if response.status_code == 206 else "wb"
                with open(part, mode) as fh:
                    try:
                        for chunk in response.iter_content(CHUNK):
                            fh.write(chunk)
                            self._count(len(chunk))
                            if self.data["bytes"] >= self.budget:
                                raise OutOfBudget
                    finally:
                        fh.flush()
                        os.fsync(fh.fileno())
        digest = hashlib.sha256()
        with open(part, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            part.unlink()
            raise ValidationError(
                N_("file %(file)s from central does not match its sha256"), file=sha256[:12]
            )
        done = self.done_path(sha256)
        os.replace(part, done)
        return done


def _assemble(dl: Downloader, item: dict[str, Any], out: Path) -> None:
    """Write the pack zip from the downloaded manifest, signature and the files on this site."""
    manifest_path = dl.have(item["sha256"])
    sig_path = dl.have(item["signature_sha256"])
    assert manifest_path is not None and sig_path is not None
    manifest = json.loads(manifest_path.read_bytes())
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.write(manifest_path, MANIFEST)
        zf.write(sig_path, SIGNATURE)
        for ref in manifest.get("files", []):
            source = dl.have(str(ref.get("sha256", "")))
            if source is None:
                raise ValidationError(N_("file %(file)s of the pack is missing"), file=ref["path"])
            with open(source, "rb") as src, zf.open(ref["path"], "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, CHUNK)
    os.replace(tmp, out)


def _needed(dl: Downloader, item: dict[str, Any]) -> list[str]:
    shas = [item["sha256"], item["signature_sha256"]]
    shas += [f["sha256"] for f in item.get("files", [])]
    out = []
    for sha in shas:
        if ap.SHA256_RE.match(str(sha)) and sha not in out and dl.have(sha) is None:
            out.append(sha)
    return out


def _valid_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and bool(ap.SHA256_RE.match(str(item.get("sha256", ""))))
        and bool(ap.SHA256_RE.match(str(item.get("signature_sha256", ""))))
        and isinstance(item.get("files", []), list)
    )


def _cleanup(dl: Downloader, items: list[dict[str, Any]], keep: set[str]) -> None:
    """Remove finished downloads now in the store (or of packs no longer assigned); ``keep``
    holds what else is downloading here (a Kru release, ``sync.edge.releases``)."""
    wanted: set[str] = set(keep)
    for item in items:
        wanted.update({item["sha256"], item["signature_sha256"]})
        wanted.update(f["sha256"] for f in item.get("files", []))
    store = ContentStore(dl.home)
    for path in dl.dir.iterdir():
        sha = path.name.removesuffix(".part")
        if not ap.SHA256_RE.match(sha):
            continue
        if sha not in wanted or (not path.name.endswith(".part") and store.has(sha)):
            path.unlink(missing_ok=True)


def pull_packs(agent: Any, items: list[dict[str, Any]], now: datetime | None = None) -> PackOutcome:
    """Fetch and install the packs central lists for this site (see the module doc)."""
    home: DataHome = agent.home
    data = read_state(home)
    dl = Downloader(agent, data)
    outcome = PackOutcome()
    packs = [i for i in items if i.get("kind") == ap.KIND_PACK and _valid_item(i)]
    states: dict[str, dict[str, Any]] = data["packs"]
    try:
        window = parse_window(agent.settings["sync.download_window"])
    except KruError as exc:
        window, window_problem = None, exc.message
    else:
        window_problem = ""
    out_of_budget = False
    for item in packs:
        pid, version = item["id"], str(item.get("version", ""))
        row = Pack.get_or_none(Pack.pack_id == pid)
        if row is not None and row.manifest_sha256 == item["sha256"]:
            states[pid] = {"version": row.version, "state": INSTALLED, "reason": ""}
            continue
        chosen = _local_choice(home, row, item, states, outcome)
        if chosen in (local_versions.HELD, local_versions.LOCAL):
            continue
        force = chosen == local_versions.OFFICIAL
        before = states.get(pid, {})
        if before.get("state") == FAILED and before.get("sha256") == item["sha256"]:
            outcome.failed.append(pid)
            continue  # the same content failed already: it would fail again
        entry = {"version": version, "state": PENDING, "reason": "", "sha256": item["sha256"]}
        states[pid] = entry
        needed = _needed(dl, item)
        if needed and window_problem:
            entry["reason"] = window_problem
        elif needed and not in_window(window, now or datetime.now()):
            entry["reason"] = "waiting for the download window"
        elif needed and out_of_budget:
            entry["reason"] = "the daily download budget is used up"
        else:
            try:
                for sha in needed:
                    dl.fetch(sha)
            except OutOfBudget:
                out_of_budget = True
                entry["reason"] = "the daily download budget is used up"
            except requests.RequestException as exc:
                entry["reason"] = f"download interrupted ({type(exc).__name__}); it resumes"
            except KruError as exc:
                entry["reason"] = exc.message
            else:
                _install(agent, dl, item, entry, force=force)
        bucket = {INSTALLED: outcome.installed, FAILED: outcome.failed}.get(entry["state"])
        (bucket if bucket is not None else outcome.pending).append(pid)
        write_state(home, data)
    for pid in list(states):  # packs installed by hand or removed since
        if states[pid].get("state") == INSTALLED and Pack.get_or_none(Pack.pack_id == pid) is None:
            del states[pid]
    for row in Pack.select():
        states.setdefault(row.pack_id, {"version": row.version, "state": INSTALLED, "reason": ""})
    write_state(home, data)
    releases = {str(i.get("sha256")) for i in items if i.get("kind") == ap.KIND_RELEASE}
    _cleanup(dl, packs, releases)
    outcome.bytes_received = dl.received
    return outcome


def _local_choice(
    home: DataHome,
    row: Pack | None,
    item: dict[str, Any],
    states: dict[str, Any],
    outcome: PackOutcome,
) -> str | None:
    """Return the admin's choice for a pack this site edited (``local_versions``); record a
    held or kept pack in ``states`` and ``outcome``."""
    if row is None:
        return None
    pid = item["id"]
    chosen = local_versions.decision(home, pid, row.version, item["sha256"])
    if chosen == local_versions.HELD:
        states[pid] = {
            "version": str(item.get("version", "")),
            "state": PENDING,
            "reason": local_versions.HELD_REASON % row.version,
            "sha256": item["sha256"],
            "held": True,
        }
        outcome.pending.append(pid)
    elif chosen == local_versions.LOCAL:
        states[pid] = {
            "version": row.version,
            "state": INSTALLED,
            "reason": local_versions.KEPT_REASON % row.version,
            "sha256": item["sha256"],
        }
    return chosen


def _install(
    agent: Any, dl: Downloader, item: dict[str, Any], entry: dict[str, Any], force: bool = False
) -> None:
    out = dl.dir / f"{item['sha256']}.zip"
    try:
        _assemble(dl, item, out)
        # ``force``: the admin chose central's version over one made here (local_versions).
        result = install_pack(out, agent.settings, agent.home, force=force)
    except KruError as exc:
        entry.update(state=FAILED, reason=exc.message)
        log.error("pack %s from central not installed: %s", item["id"], exc.message)
    else:
        entry.update(state=INSTALLED, version=result.version, reason="")
        log.info("pack %s %s from central installed", result.pack_id, result.version)
    finally:
        out.unlink(missing_ok=True)
        out.with_suffix(".tmp").unlink(missing_ok=True)


def report(agent: Any, release: dict[str, str] | None = None) -> bool:
    """Tell central what packs this site has (installed, pending, failed with the reason),
    and (sync 1.5) the Kru version it runs and its last upgrade's outcome."""
    data = read_state(agent.home)
    extra = {"release": release} if release is not None else {}
    body = json.dumps(
        {
            **extra,
            "packs": [
                {
                    "id": pid,
                    "version": s.get("version", ""),
                    "state": s["state"],
                    "reason": s.get("reason", ""),
                }
                for pid, s in sorted(data["packs"].items())
            ],
        }
    ).encode()
    response = agent._request("POST", ap.PACKS_REPORT_PATH, protocol.NO_BATCH, body)
    return response.status_code == 200
