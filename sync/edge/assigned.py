"""The site side of "what central has for this site" (sync 1.1): fetch what is assigned.

After a sync run caught up, the agent asks central for its manifest. For HTTPS it sends the
site's certificate request when central does not hold this one yet, and fetches the
certificate chain when central holds one the site has not installed. Every byte counts
against the daily budget. Central's last answer about HTTPS is kept in
``https/central.json`` for the admin page. Packs (``downloads``) and Kru releases
(``releases``, issue 20) are fetched the same way, by sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from edge_server.base import site_tls
from edge_server.base.datahome import DataHome, write_file_atomically
from edge_server.base.errors import KruError

from .. import assigned_protocol as ap
from .. import protocol
from . import state

log = logging.getLogger(__name__)

CENTRAL_STATE = "central.json"
OVERHEAD_BYTES = 600
BUDGET_RESERVE_BYTES = 16 * 1024  # a manifest, a request and a certificate chain


@dataclass
class PullResult:
    manifest: bool = False
    csr_sent: bool = False
    installed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def central_state_path(home: DataHome) -> Path:
    return home.root / site_tls.DIR / CENTRAL_STATE


def read_central_state(home: DataHome) -> dict[str, Any]:
    """Return what central last said about this site's HTTPS ({} when never asked)."""
    try:
        return json.loads(central_state_path(home).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_central_state(home: DataHome, data: dict[str, Any]) -> None:
    write_file_atomically(central_state_path(home), json.dumps(data, indent=1), 0o644)


def https_name(settings: Any, home: DataHome, identity_name: str = "") -> str:
    """Return this site's HTTPS name, or "" when ``https.domain`` is not set.

    Raises:
        ValidationError: the domain or the label is not usable in DNS.
    """
    label = read_central_state(home).get("label", "")
    return site_tls.site_name(settings, label, identity_name)


def _get(agent: Any, path: str) -> requests.Response:
    response = agent._request("GET", path, protocol.NO_BATCH, b"")
    state.add_bytes(agent.db, OVERHEAD_BYTES, len(response.content) + 200)
    return response


def _error(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error.get('message', '')}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def pull(agent: Any) -> PullResult:
    """Fetch this site's manifest and act on it (see the module doc).

    Raises:
        requests.RequestException: the link failed (the caller logs it; nothing is lost).
    """
    result = PullResult()
    if state.bytes_today(agent.db) + BUDGET_RESERVE_BYTES > agent.budget:
        result.problems.append("the daily data budget is used up")
        return result
    response = _get(agent, ap.ASSIGNED_PATH)
    if response.status_code == 404:
        log.info("central speaks sync 1.0: nothing to pull")
        return result
    if response.status_code != 200:
        result.problems.append(_error(response))
        return result
    manifest = response.json()
    result.manifest = True
    https = manifest.get("https") or {}
    items = manifest.get("items") or []
    _https(agent, https, items, result)
    if manifest.get("minor", 1) >= 2:  # sync 1.2: packs (sync/edge/downloads.py)
        from . import downloads

        packs = downloads.pull_packs(agent, items)
        result.installed += packs.installed
        result.problems += [f"pack {p} failed" for p in packs.failed]
        release = None
        if manifest.get("minor", 1) >= 5:  # sync 1.5: Kru releases (sync/edge/releases.py)
            from . import releases

            log.info("Kru release: %s", releases.pull_release(agent, items))
            release = releases.report_part(agent.home)
        if not downloads.report(agent, release):
            result.problems.append("central refused the pack report")
    return result


def _https(
    agent: Any, https: dict[str, Any], items: list[dict[str, Any]], result: PullResult
) -> None:
    home: DataHome = agent.home
    saved = {
        "enabled": bool(https.get("enabled")),
        "name": https.get("name", ""),
        "label": https.get("label", ""),
        "state": https.get("state", ""),
        "last_error": https.get("last_error"),
        "problem": "",
    }
    _write_central_state(home, saved)
    try:
        name = https_name(agent.settings, home, agent.identity.name)
    except KruError as exc:
        saved["problem"] = exc.message
        _write_central_state(home, saved)
        result.problems.append(exc.message)
        return
    if not name or not saved["enabled"]:
        return
    csr = site_tls.ensure_csr(home, name)
    if hashlib.sha256(csr).hexdigest() != https.get("csr_sha256"):
        sent = agent._request("POST", ap.CSR_PATH, protocol.NO_BATCH, csr)
        state.add_bytes(agent.db, len(csr) + OVERHEAD_BYTES, len(sent.content) + 200)
        if sent.status_code == 202:
            result.csr_sent = True
            log.info("certificate request for %s sent", name)
        else:
            saved["problem"] = _error(sent)
            result.problems.append(saved["problem"])
    for item in items:
        if item.get("kind") != ap.KIND_CERTIFICATE:
            continue  # kinds this Kru does not know yet
        digest = str(item.get("sha256", ""))
        if not ap.SHA256_RE.match(digest) or digest == site_tls.installed_sha256(home):
            continue
        fetched = _get(agent, ap.file_path(digest))
        body = fetched.content
        if fetched.status_code != 200 or hashlib.sha256(body).hexdigest() != digest:
            saved["problem"] = f"certificate download failed ({_error(fetched)})"
            result.problems.append(saved["problem"])
            continue
        try:
            site_tls.install_chain(home, body, name)
        except KruError as exc:
            saved["problem"] = exc.message
            result.problems.append(exc.message)
            log.error("certificate from central not installed: %s", exc.message)
            continue
        result.installed.append(digest)
    _write_central_state(home, saved)
