"""Kru releases on the site (issue 20): fetch, verify, stage, ask root to switch, report.

A release reaches the site from central (a ``release`` item of the manifest, sync 1.5,
downloaded by :class:`.downloads.Downloader` like pack files: resumable, within the download
budget and window), from a USB stick on the Site page, or from a site update stick. Either
way :func:`stage` checks it completely (the signature record against the keys of this Pi's
image in ``releases.keys_dir``, the bundle's size and sha256, its architecture) and puts the
bundle and its record in ``releases/incoming/`` of the data directory; nothing else changes.
:func:`apply` then asks the root helper for ``upgrade``: ``/opt/kru/bin/kru-upgrade`` checks
the signature again (root trusts nothing the ``kru`` user wrote), installs the release beside
the running one, snapshots the database, switches, migrates, checks ``/healthz`` and rolls
back by itself (docs/device-admin-guide.md, "How a Pi upgrades"). It writes the outcome to
``releases/state.json``, which the agent reports to central with the pack report.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from edge_server.base.datahome import DataHome, write_file_atomically
from edge_server.base.errors import N_, Conflict, KruError
from edge_server.system import helper

from .. import assigned_protocol as ap
from .. import release_record as rr
from . import downloads

log = logging.getLogger(__name__)

DIR = "releases"
INCOMING = "incoming"
BUNDLE = "bundle.tar.gz"
STATE = "state.json"

INSTALLED = "installed"
PENDING = "pending"
FAILED = "failed"


def running_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kru")
    except PackageNotFoundError:
        return "0+unknown"


def machine() -> str:
    return platform.machine()


def incoming(home: DataHome) -> Path:
    return home.root / DIR / INCOMING


def read_state(home: DataHome) -> dict[str, Any]:
    """Return the last upgrade's record (``version``, ``state``, ``reason``), {} when none."""
    try:
        data = json.loads((home.root / DIR / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(home: DataHome, **values: Any) -> None:
    values["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_file_atomically(home.root / DIR / STATE, json.dumps(values, indent=1), 0o644)


def trusted(settings: Mapping[str, Any]) -> list[str]:
    return rr.trusted_keys(Path(settings["releases.keys_dir"]))


def check(settings: Mapping[str, Any], bundle: Path, sig: bytes) -> rr.Release:
    """Return the release ``bundle`` is, when this Pi would install it (nothing changes).

    Raises:
        BadRelease: damaged record, not the file signed, or built for another machine.
        UntrustedRelease: not signed by a key of this Pi's image.
    """
    release = rr.verify(bundle, sig, trusted(settings))
    if release.arch != machine():
        raise rr.BadRelease(
            N_("Kru %(version)s is built for %(arch)s, this Pi is %(machine)s"),
            version=release.version,
            arch=release.arch,
            machine=machine(),
        )
    return release


def stage(
    settings: Mapping[str, Any], home: DataHome, bundle: Path, sig: bytes, *, move: bool = False
) -> rr.Release:
    """Check ``bundle`` (:func:`check`) and put it in ``releases/incoming/`` for the helper.

    ``move`` moves the file instead of copying it (a finished download).

    Raises:
        BadRelease, UntrustedRelease: as :func:`check`; nothing is staged.
        Conflict: code ``release_running``, this Pi runs that version already.
    """
    release = check(settings, bundle, sig)
    if release.version == running_version():
        raise Conflict(
            N_("This Pi runs Kru %(version)s already"),
            code="release_running",
            version=release.version,
        )
    folder = incoming(home)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / BUNDLE
    sig_target = rr.sig_path(target)
    sig_target.unlink(missing_ok=True)  # the record last: a bundle without one is never applied
    tmp = folder / f".{BUNDLE}.tmp"
    if move:
        os.replace(bundle, tmp)
    else:
        shutil.copyfile(bundle, tmp)
    os.replace(tmp, target)
    write_file_atomically(sig_target, release.record_bytes().decode("utf-8"), 0o644)
    write_state(
        home,
        version=release.version,
        sha256=release.sha256,
        state=PENDING,
        reason="waiting for the switch",
    )
    log.info("staged Kru %s for the helper", release.version)
    return release


def apply(settings: Mapping[str, Any], home: DataHome) -> None:
    """Ask the root helper to install the staged release (it restarts Kru).

    Raises:
        HelperFailed: the helper is missing or refused (the state says so).
    """
    try:
        helper.run(settings, "upgrade")
    except KruError as exc:
        state = read_state(home)
        write_state(
            home,
            version=state.get("version", ""),
            sha256=state.get("sha256", ""),
            state=FAILED,
            code="helper_failed",
            reason=exc.message,
        )
        raise


def report_part(home: DataHome) -> dict[str, str]:
    """Return the ``release`` part of the report to central (sync 1.5); ``code`` is one of
    :data:`sync.release_record.UPGRADE_REASONS` (or "")."""
    state = read_state(home)
    running = running_version()
    got = state.get("state", "")
    if got not in (INSTALLED, PENDING, FAILED):
        got = INSTALLED
    return {
        "running": running,
        "version": str(state.get("version") or running),
        "state": got,
        "code": str(state.get("code") or ""),
        "reason": str(state.get("reason") or ""),
    }


def left_out(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Return what a rollback could not carry back (``not_carried`` of state.json, written by
    kru-upgrade from kru-carry-back's report): ``table``, ``name`` (untranslated words for
    it, or ""), ``rows``, ``why`` and ``words``, the untranslated words for ``why``, and
    ``columns``; entries of another shape are skipped."""
    out = []
    entries = state.get("not_carried")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        table, rows, why = entry.get("table"), entry.get("rows"), str(entry.get("why", ""))
        if not isinstance(table, str) or not isinstance(rows, int) or rows <= 0:
            continue
        columns = entry.get("columns")
        out.append(
            {
                "table": table[:80],
                "name": rr.table_words(table),
                "rows": rows,
                "why": why if why in rr.NOT_CARRIED_REASONS else "",
                "words": rr.NOT_CARRIED_REASONS.get(why, ""),
                "columns": ", ".join(str(c)[:80] for c in columns)
                if isinstance(columns, list)
                else "",
            }
        )
    return out


def brought_back(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Return what a rollback brought back, per table (``carried_back`` and ``merged_back`` of
    state.json): ``table``, ``name`` (untranslated words, "" for a table without),
    ``new`` and ``merged`` rows; named tables first, then by table; odd entries skipped."""
    counts: dict[str, dict[str, int]] = {}
    for key, field in (("carried_back", "new"), ("merged_back", "merged")):
        given = state.get(key)
        for table, rows in (given if isinstance(given, dict) else {}).items():
            if isinstance(table, str) and isinstance(rows, int) and rows > 0:
                counts.setdefault(table[:80], {"new": 0, "merged": 0})[field] = rows
    out = [
        {"table": table, "name": rr.table_words(table), **rows} for table, rows in counts.items()
    ]
    return sorted(out, key=lambda e: (not e["name"], e["table"]))


def panel(home: DataHome) -> dict[str, Any]:
    """Return the Site page's "Kru version" card: :func:`report_part`, ``words``, the
    untranslated words for the reason code (the page translates them), and after a rollback
    ``brought_back`` (:func:`brought_back`), ``left_out`` (:func:`left_out`) with
    ``failed_db``, the copy that still holds those rows."""
    part = report_part(home)
    state = read_state(home)
    failed_db = state.get("failed_db") if state.get("state") == FAILED else ""
    return {
        **part,
        "words": rr.upgrade_reason(part["code"]),
        "left_out": left_out(state) if state.get("state") == FAILED else [],
        "brought_back": brought_back(state) if state.get("state") == FAILED else [],
        "failed_db": failed_db if isinstance(failed_db, str) else "",
    }


def _item_for_me(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    for item in items:
        if (
            isinstance(item, dict)
            and item.get("kind") == ap.KIND_RELEASE
            and item.get("arch") == machine()
            and ap.SHA256_RE.match(str(item.get("sha256", "")))
            and isinstance(item.get("signature"), dict)
        ):
            return item
    return None


def pull_release(agent: Any, items: list[dict[str, Any]], now: datetime | None = None) -> str:
    """Fetch, check, stage and apply the release central assigns this site; return what
    happened in a few words (for the log)."""
    home: DataHome = agent.home
    item = _item_for_me(items)
    if item is None:
        return "no release assigned"
    version, sha = str(item.get("version", "")), item["sha256"]
    if version == running_version():
        return f"runs {version}"
    state = read_state(home)
    if state.get("sha256") == sha and state.get("state") == FAILED:
        return f"{version} failed before: {state.get('reason', '')}"  # not again and again
    if (
        state.get("sha256") == sha
        and state.get("state") == PENDING
        and rr.sig_path(incoming(home) / BUNDLE).exists()
    ):
        return f"{version} is staged"
    try:
        window = downloads.parse_window(agent.settings["sync.download_window"])
    except KruError as exc:
        return exc.message
    data = downloads.read_state(home)
    dl = downloads.Downloader(agent, data)
    if dl.have(sha) is None and not downloads.in_window(window, now or datetime.now()):
        write_state(
            home,
            version=version,
            sha256=sha,
            state=PENDING,
            reason="waiting for the download window",
        )
        return "waiting for the download window"
    reason = ""
    path: Path | None = None
    try:
        path = dl.have(sha) or dl.fetch(sha)
    except downloads.OutOfBudget:
        reason = "the daily download budget is used up"
    except requests.RequestException as exc:
        reason = f"download interrupted ({type(exc).__name__}); it resumes"
    except KruError as exc:
        reason = exc.message
    finally:
        downloads.write_state(home, data)
    if reason or path is None:
        write_state(home, version=version, sha256=sha, state=PENDING, reason=reason)
        return reason
    downloaded = path.parent == dl.dir  # not a file of the content store
    try:
        stage(agent.settings, home, path, json.dumps(item["signature"]).encode(), move=downloaded)
    except KruError as exc:
        if downloaded:
            path.unlink(missing_ok=True)
        write_state(home, version=version, sha256=sha, state=FAILED, reason=exc.message)
        log.error("Kru %s from central refused: %s", version, exc.message)
        return exc.message
    try:
        apply(agent.settings, home)
    except KruError as exc:
        return exc.message
    return f"{version} staged; the helper switches"
