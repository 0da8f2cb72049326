"""The edge sync agent: push events after the durable cursor until caught up.

One run: probe the central server cheaply, then build, send and acknowledge batches. The
cursor moves only after an acknowledgement, in one transaction with the byte count. Errors
on the link back off exponentially with jitter (and honour ``Retry-After``); a batch the
server calls malformed is quarantined (kept on disk, reported, skipped); the daily data
budget stops a run before it is overspent. Nothing is written per attempt except the state
row and the day's byte counter, which are updated in place.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from edge_server.base import site_signing
from edge_server.base.datahome import DataHome
from edge_server.base.errors import N_, KruError
from edge_server.base.settings import Settings

from .. import protocol, usb_protocol
from ..modem import status as modem
from . import site_status, state
from .batches import read_batch
from .identity import Identity, central_url, load_identity

log = logging.getLogger(__name__)

REQUEST_OVERHEAD_BYTES = 600  # request line and headers, counted against the budget
PROBE_BYTES = 900  # a hello request and its answer
# A batch acknowledged within this share of the read timeout means the link is good: the
# next batch may be twice as large (up to sync.max_batch_size). Fewer, larger batches cut
# the per-batch work at both ends (queries, commits, signatures) on a good link.
GROW_BELOW_TIMEOUT_SHARE = 0.1

# Outcome codes of a run (``RunResult.code``), also stored as ``last_error_code``.
CAUGHT_UP = "caught_up"
OFFLINE = "offline"
BUDGET = "budget_exhausted"
NO_MODEM_LINK = "modem_not_registered"
NOT_CONFIGURED = "not_configured"
REJECTED = "rejected"
GAVE_UP = "gave_up"


class AlreadyRunning(KruError):
    code = "sync_running"
    status = 409


@dataclass
class RunResult:
    code: str = CAUGHT_UP
    message: str = ""
    events_sent: int = 0
    batches: int = 0
    bytes_sent: int = 0
    quarantined: int = 0
    pending: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def caught_up(self) -> bool:
        return self.code == CAUGHT_UP


class _Retry(Exception):
    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


class _Stop(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Return the wait before retry ``attempt`` (1-based): full jitter under base * 2**n."""
    return rng.uniform(0, min(cap, base * (2 ** (attempt - 1))))


def modem_status(settings: Settings) -> dict[str, Any] | None:
    """Return the modem's status for the batch header, or None when there is no modem."""
    try:
        return modem.status_for_sync(settings)
    except Exception:  # a broken modem must not stop sync over Ethernet
        log.exception("modem status failed")
        return None


@contextmanager
def agent_lock(home: DataHome):
    """Hold the data home's sync lock, so one agent runs at a time.

    Raises:
        AlreadyRunning: another agent holds it.
    """
    fd = os.open(home.root / "sync.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise AlreadyRunning(N_("Another sync is running on this site")) from exc
        yield
    finally:
        os.close(fd)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _older_version(response: requests.Response) -> int | None:
    """Return the version to speak with a central that refused ours, or None."""
    try:
        error = response.json()["error"]
        if error["code"] != protocol.E_UNSUPPORTED_PROTOCOL:
            return None
        offered = [int(v) for v in error["supported"]]
    except (ValueError, KeyError, TypeError):
        return None
    version = protocol.negotiate(offered)
    return version if version is not None and version < protocol.PROTOCOL_VERSION else None


def _error_code(response: requests.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return f"http_{response.status_code}", response.text[:200]


class Agent:
    """Push this site's events to the central server; see ``run``."""

    def __init__(
        self,
        settings: Settings,
        home: DataHome,
        db: Any,
        *,
        identity: Identity | None = None,
        session: requests.Session | None = None,
        wait: Callable[[float], object] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.home = home
        self.db = db
        self.identity = identity or load_identity(home)
        self.url = central_url(self.identity, settings["sync.central_url"])
        self.session = session
        self.wait = wait
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.clock = clock
        self.batch_size = settings["sync.batch_size"]
        self.max_batch_size = min(
            max(self.batch_size, settings["sync.max_batch_size"]), protocol.MAX_EVENTS_PER_BATCH
        )
        self.budget = int(settings["sync.daily_budget_mb"] * 1024 * 1024)
        self.timeout = (settings["sync.connect_timeout_s"], settings["sync.timeout_s"])
        self.version = protocol.PROTOCOL_VERSION
        self.machine = site_status.machine(settings)
        self.status: dict[str, Any] | None = None

    # --- HTTP ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, batch_id: str, body: bytes) -> requests.Response:
        headers = protocol.signed_headers(
            self.identity.secret,
            method,
            path,
            self.identity.device_id,
            batch_id,
            body,
            int(self.clock() * 1000),
            self.version,
            self.machine,
        )
        if path == protocol.STATUS_PATH:
            headers["Content-Type"] = "application/json"
        else:
            headers["Content-Type"] = "application/gzip" if body else "text/plain"
        assert self.session is not None
        return self.session.request(
            method, self.url + path, data=body, headers=headers, timeout=self.timeout
        )

    def probe(self) -> dict[str, Any]:
        """Ask the central server who we are to it; negotiate the protocol version.

        Raises:
            _Retry / _Stop: the link is down, or the server refuses this device.
        """
        try:
            response = self._request("GET", protocol.HELLO_PATH, protocol.NO_BATCH, b"")
        except requests.RequestException as exc:
            raise _Retry(OFFLINE, f"central server unreachable: {type(exc).__name__}") from exc
        state.add_bytes(self.db, PROBE_BYTES, len(response.content))
        if response.status_code == 400 and self.version == protocol.PROTOCOL_VERSION:
            older = _older_version(response)
            if older is not None:  # a central not yet updated: speak its version
                self.version = older
                return self.probe()
        if response.status_code != 200:
            code, message = _error_code(response)
            if response.status_code in (429, 502, 503, 504) or response.status_code >= 500:
                raise _Retry(code, message, _retry_after(response))
            raise _Stop(code, message or f"central server answered {response.status_code}")
        try:
            hello = response.json()
            offered = [int(v) for v in hello["protocol_versions"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise _Retry("bad_answer", "central server sent an unreadable answer") from exc
        version = protocol.negotiate(offered)
        if version is None:
            raise _Stop(
                protocol.E_UNSUPPORTED_PROTOCOL,
                f"central server speaks {offered}, this site {list(protocol.SUPPORTED_VERSIONS)}",
            )
        self.version = version
        return hello

    def report_status(self) -> None:
        """Send the site's status (protocol 2) when no batch carried it this run.

        Raises:
            _Retry / _Stop: the link is down, or central refuses this machine.
        """
        if self.version < 2:
            return
        body = json.dumps(self.status, ensure_ascii=False).encode()
        cost = len(body) + REQUEST_OVERHEAD_BYTES
        if state.bytes_today(self.db) + cost > self.budget:
            raise _Stop(BUDGET, "the daily data budget is used up")
        try:
            response = self._request("POST", protocol.STATUS_PATH, protocol.NO_BATCH, body)
        except requests.RequestException as exc:
            state.add_bytes(self.db, cost)
            raise _Retry(OFFLINE, f"link failed: {type(exc).__name__}") from exc
        state.add_bytes(self.db, cost, len(response.content) + 200)
        if response.status_code == 200:
            return
        code, message = _error_code(response)
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise _Retry(code, message, _retry_after(response))
        if response.status_code in (401, 403, 409):
            raise _Stop(code, message)
        log.warning("central server refused the status report: %s %s", code, message)

    def _send(self, batch: protocol.Batch, body: bytes, result: RunResult) -> None:
        """Send one batch and act on the answer.

        Raises:
            _Retry / _Stop: as the answer or the link demand.
        """
        cost = len(body) + REQUEST_OVERHEAD_BYTES
        if state.bytes_today(self.db) + cost > self.budget:
            raise _Stop(BUDGET, "the daily data budget is used up")
        began = time.monotonic()
        try:
            response = self._request("POST", protocol.BATCHES_PATH, batch.batch_id, body)
        except requests.ConnectionError as exc:
            # The body may have gone out before the link broke: count it against the budget.
            if not isinstance(exc, requests.ConnectTimeout):
                state.add_bytes(self.db, cost)
            raise _Retry(OFFLINE, f"link failed: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            state.add_bytes(self.db, cost)
            raise _Retry(OFFLINE, f"link failed: {type(exc).__name__}") from exc
        received = len(response.content) + 200
        if response.status_code == 200:
            try:
                ack = response.json()
                acked = int(ack["acked_seq"])
                server_time = int(ack["server_time"])
            except (ValueError, KeyError, TypeError) as exc:
                state.add_bytes(self.db, cost, received)
                raise _Retry("bad_answer", "central server sent an unreadable answer") from exc
            if acked < batch.last:
                # 200 means every event of the batch is held; a lower acknowledgement means
                # the central server lacks earlier events (restored from an old backup?).
                log.warning("central server acknowledges only up to seq %s of this site", acked)
            offset = round((server_time - batch.clock_ms) / 1000, 1)
            state.record_ack(self.db, batch.last, batch.last, cost, received, batch.backlog, offset)
            if acked > batch.last:
                # Central holds more of this site than this batch (it came on a USB drive).
                state.adopt_server_ack(self.db, acked)
            result.bytes_sent += cost
            result.batches += 1
            result.events_sent += len(batch.events)
            self._adapt_batch_size(len(batch.events), time.monotonic() - began)
            return
        state.add_bytes(self.db, cost, received)
        code, message = _error_code(response)
        if code == protocol.E_BATCH_TOO_LARGE or response.status_code == 413:
            if len(batch.events) > 1:
                self.batch_size = max(1, len(batch.events) // 2)
                raise _Retry(code, message, 0)
            self._quarantine(batch, body, code, message, result)
            return
        if code in protocol.QUARANTINE_CODES:
            self._quarantine(batch, body, code, message, result)
            return
        if (
            code in protocol.RETRYABLE_CODES
            or response.status_code in (408, 429)
            or (response.status_code >= 500)
        ):
            raise _Retry(code, message or f"HTTP {response.status_code}", _retry_after(response))
        raise _Stop(code, message or f"central server answered {response.status_code}")

    def _adopt_hello_ack(self, hello: dict[str, Any]) -> None:
        """Skip what central already holds (batches it got on a USB drive, protocol 1.3)."""
        try:
            acked = int(hello.get("acked_seq") or 0)
        except (TypeError, ValueError):
            return
        # After a restore, events numbered since go past central's mark first (issue 19).
        state.settle_restore(self.db, self.home, acked)
        if acked > state.read_state(self.db).cursor:
            cursor = state.adopt_server_ack(self.db, acked)
            log.info("central already holds this site's events up to seq %s", cursor)

    def _adapt_batch_size(self, sent: int, took_s: float) -> None:
        """Double the batch size after a full batch acknowledged quickly (a good link)."""
        fast = took_s < self.timeout[1] * GROW_BELOW_TIMEOUT_SHARE
        if fast and sent >= self.batch_size and self.batch_size < self.max_batch_size:
            self.batch_size = min(self.batch_size * 2, self.max_batch_size)

    def _quarantine(
        self, batch: protocol.Batch, body: bytes, code: str, message: str, result: RunResult
    ) -> None:
        self.home.quarantine.mkdir(parents=True, exist_ok=True)
        path = self.home.quarantine / f"sync-{batch.after}-{batch.last}-{batch.batch_id}.ndjson.gz"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, path)
        state.quarantine(
            self.db,
            batch_id=batch.batch_id,
            after=batch.after,
            last=batch.last,
            events=len(batch.events),
            code=code,
            message=message,
            file=str(path),
        )
        log.error(
            "batch %s (seq %s-%s) quarantined: %s",
            batch.batch_id,
            batch.after + 1,
            batch.last,
            message,
        )
        result.quarantined += 1

    # --- the loop --------------------------------------------------------------------------
    def _site(self) -> dict[str, Any]:
        s = self.settings
        return {
            "name": s["site_name"],
            "kind": s["site_kind"],
            "province": s["province"],
            "signing_key": site_signing.public_key_b64(self.home),  # issue 16: checks certificates
        }

    def _one_batch(self, modem: dict[str, Any] | None, result: RunResult) -> bool:
        """Send the next batch; return False when nothing waits."""
        current = state.read_state(self.db)
        cursor = current.cursor
        batch = read_batch(
            self.db,
            device_id=self.identity.device_id,
            after=cursor,
            limit=self.batch_size,
            clock_ms=int(self.clock() * 1000),
            site=self._site(),
            modem=modem,
        )
        if batch is None:
            return False
        batch.acked = min(current.server_acked, cursor)
        batch.backlog = state.pending_events(self.db, batch.last)
        batch.boot = usb_protocol.current_boot()
        batch.version = self.version
        batch.status = self.status
        batch.bases = usb_protocol.epoch_bases()
        body = protocol.encode_batch(batch)
        if len(body) > protocol.MAX_BODY_BYTES and len(batch.events) > 1:
            self.batch_size = max(1, len(batch.events) // 2)
            return True
        self._send(batch, body, result)
        return True

    def _pull_assigned(self, result: RunResult) -> None:
        """Fetch what central has for this site (sync 1.1: the HTTPS certificate)."""
        from .assigned import pull

        try:
            result.details["assigned"] = pull(self)
        except Exception:  # pushing the learning data succeeded all the same
            log.exception("pulling what central has for this site failed")

    def run(self) -> RunResult:
        """Sync until caught up, out of link, out of budget, or refused; return the outcome.

        ``pending`` is counted as ``kru sync status`` counts it, whatever the outcome.
        """
        result = self._run()
        result.pending = state.pending_events(self.db)
        return result

    def _run(self) -> RunResult:
        result = RunResult()
        if not self.url:
            result.code, result.message = NOT_CONFIGURED, "no central server URL: provision first"
            state.record_error(self.db, result.code, result.message)
            return result
        modem = modem_status(self.settings)
        if modem is not None and modem.get("registered") is False:
            result.code, result.message = NO_MODEM_LINK, "the modem is not registered on a network"
            result.details["modem"] = modem
            state.record_error(self.db, result.code, result.message)
            return result
        max_retries = self.settings["sync.max_retries"]
        base = self.settings["sync.backoff_base_s"]
        cap = float(self.settings["sync.max_backoff_s"])
        own_session = self.session is None
        if own_session:
            self.session = requests.Session()
        failures = 0
        probed = False
        try:
            while True:
                try:
                    if not probed:
                        if state.bytes_today(self.db) + PROBE_BYTES > self.budget:
                            raise _Stop(BUDGET, "the daily data budget is used up")
                        state.record_attempt(self.db)
                        hello = self.probe()
                        self.status = site_status.site_status(self.settings, self.home)
                        probed = True
                        self._adopt_hello_ack(hello)
                    if not self._one_batch(modem, result):
                        if not result.batches:
                            self.report_status()  # batches carry it in their header
                        state.record_caught_up(self.db)
                        result.code = CAUGHT_UP
                        self._pull_assigned(result)
                        break
                    failures = 0
                except _Retry as retry:
                    failures += 1
                    # A failing link gets the configured size again (a halving for a too
                    # large batch stays).
                    if retry.code not in (protocol.E_BATCH_TOO_LARGE,):
                        self.batch_size = min(self.batch_size, self.settings["sync.batch_size"])
                    state.record_error(self.db, retry.code, retry.message)
                    if failures > max_retries:
                        result.code = OFFLINE if retry.code == OFFLINE else GAVE_UP
                        result.message = retry.message
                        break
                    delay = backoff_delay(failures, base, cap, self.rng)
                    if retry.retry_after is not None:
                        delay = min(cap, max(delay, retry.retry_after))
                    log.info("sync: %s; retry %s in %.1fs", retry.message, failures, delay)
                    self.wait(delay)
                except _Stop as stop:
                    result.code = stop.code if stop.code == BUDGET else REJECTED
                    result.message = stop.message
                    result.details["server_code"] = stop.code
                    state.record_error(self.db, stop.code, stop.message)
                    break
        finally:
            if own_session and self.session is not None:
                self.session.close()
                self.session = None
        return result


def sync_once(settings: Settings, home: DataHome, db: Any, **kwargs: Any) -> RunResult:
    """Run the agent once on the site whose data home and database (open) are given.

    Raises:
        AlreadyRunning: another agent is running on this site.
    """
    try:
        with agent_lock(home):
            return Agent(settings, home, db, **kwargs).run()
    finally:
        db.close()  # the connection, not the handle: the next run reconnects
