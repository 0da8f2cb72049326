"""Forwarding xAPI statements to an external learning record store, each exactly once.

The queue is a table (``lrs_queue``) keyed by the statement id (the event's UUID): every
event stored here is queued once (``enqueue`` copies the events past the highest one already
queued, and the key makes a second copy a no-op, so several processes may run it), then
delivered in batches of ``central.lrs_batch_size`` by ``POST <url>/xAPI/statements`` with
``X-Experience-API-Version: 1.0.3`` and basic authentication. A statement is marked sent
only after the LRS accepted it. When the LRS answers 409 for a batch (it already holds one
of the ids: a pass that stopped after the LRS stored a batch but before we marked it), the
batch is sent again one statement at a time and a statement the LRS already holds counts as
delivered. When the LRS is down (no answer, 5xx, 429), the pass stops and the next one
resumes with the same statements. A statement the LRS refuses as bad (400) is kept as
``rejected`` with the LRS's reason and never retried by itself (``kru central lrs retry``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from edge_server.base.errors import N_, ConfigError, KruError
from edge_server.base.settings import Settings

from . import xapi
from .db import database, is_postgres

log = logging.getLogger(__name__)

VERSION_HEADER = "X-Experience-API-Version"
PENDING, SENT, REJECTED = "pending", "sent", "rejected"


class LrsNotConfigured(ConfigError):
    code = "lrs_not_configured"
    status = 409


class LrsUnavailable(KruError):
    """The LRS could not be reached or failed; the statements stay queued."""

    code = "lrs_unavailable"
    status = 503


@dataclass
class LrsConfig:
    url: str
    username: str
    password: str
    batch_size: int
    timeout_s: float
    public_url: str
    names: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> LrsConfig:
        """Return the forwarding settings.

        Raises:
            LrsNotConfigured: ``central.lrs_url`` is empty.
            ExportNotConfigured: ``central.public_url`` is empty.
        """
        url = settings["central.lrs_url"].strip().rstrip("/")
        if not url:
            raise LrsNotConfigured(
                N_("Set central.lrs_url (KRU_CENTRAL_LRS_URL) to the learning record store first")
            )
        xapi.base_url(settings["central.public_url"])
        return cls(
            url=url.removesuffix("/xAPI"),
            username=settings["central.lrs_username"],
            password=settings["central.lrs_password"],
            batch_size=settings["central.lrs_batch_size"],
            timeout_s=settings["central.lrs_timeout_s"],
            public_url=settings["central.public_url"],
            names=settings["central.xapi_names"],
        )


@dataclass
class PassReport:
    queued: int = 0
    sent: int = 0
    already_held: int = 0
    rejected: int = 0
    error: str | None = None
    batches: list[int] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "sent": self.sent,
            "already_held": self.already_held,
            "rejected": self.rejected,
            "error": self.error,
        }


def _sql(query: str, params: tuple | list = ()) -> list[tuple]:
    return list(database.execute_sql(query.replace("?", database.param), params).fetchall())


def _now_ms() -> int:
    return int(time.time() * 1000)


def enqueue() -> int:
    """Queue every stored event not queued yet; return how many were added."""
    insert = "INSERT INTO" if is_postgres(database) else "INSERT OR IGNORE INTO"
    conflict = " ON CONFLICT DO NOTHING" if is_postgres(database) else ""
    with database.atomic():
        cursor = database.execute_sql(
            (
                f"{insert} lrs_queue (statement_id, event_pk, state, queued_ms) "  # noqa: S608
                "SELECT event_id, id, ?, ? FROM central_events "
                "WHERE id > (SELECT COALESCE(MAX(event_pk), 0) FROM lrs_queue) ORDER BY id"
                + conflict
            ).replace("?", database.param),
            (PENDING, _now_ms()),
        )
        return max(cursor.rowcount, 0)


def status() -> dict[str, Any]:
    """Return the queue: counts by state, the oldest waiting statement, the last error."""
    counts = {PENDING: 0, SENT: 0, REJECTED: 0}
    for state, n in _sql("SELECT state, COUNT(*) FROM lrs_queue GROUP BY state"):
        counts[state] = n
    waiting = _sql(
        "SELECT MIN(queued_ms), MAX(attempts) FROM lrs_queue WHERE state = ?", (PENDING,)
    )[0]
    unqueued = _sql(
        "SELECT COUNT(*) FROM central_events "
        "WHERE id > (SELECT COALESCE(MAX(event_pk), 0) FROM lrs_queue)"
    )[0][0]
    error = _sql(
        "SELECT last_error FROM lrs_queue WHERE last_error IS NOT NULL AND state <> ? "
        "ORDER BY event_pk LIMIT 1",
        (SENT,),
    )
    last_sent = _sql("SELECT MAX(sent_ms) FROM lrs_queue")[0][0]
    return {
        "pending": counts[PENDING] + unqueued,
        "sent": counts[SENT],
        "rejected": counts[REJECTED],
        "oldest_pending_ms": waiting[0],
        "max_attempts": waiting[1] or 0,
        "last_error": error[0][0] if error else None,
        "last_sent_ms": last_sent,
    }


def _mark(ids: list[str], state: str, error: str | None = None) -> None:
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    sent_ms = _now_ms() if state == SENT else None
    database.execute_sql(
        (
            f"UPDATE lrs_queue SET state = ?, sent_ms = ?, last_error = ?, "  # noqa: S608
            f"attempts = attempts + 1 WHERE statement_id IN ({marks})"
        ).replace("?", database.param),
        (state, sent_ms, error, *ids),
    )


def _failed(ids: list[str], error: str) -> None:
    marks = ",".join("?" * len(ids))
    database.execute_sql(
        (
            "UPDATE lrs_queue SET attempts = attempts + 1, last_error = ? "  # noqa: S608
            f"WHERE statement_id IN ({marks})"
        ).replace("?", database.param),
        (error[:500], *ids),
    )


class _Client:
    def __init__(self, config: LrsConfig) -> None:
        self.config = config
        self.session = requests.Session()
        if config.username:
            self.session.auth = (config.username, config.password)
        self.session.headers[VERSION_HEADER] = xapi.XAPI_VERSION

    def post(self, statements: list[dict[str, Any]]) -> requests.Response:
        try:
            return self.session.post(
                f"{self.config.url}/xAPI/statements",
                json=statements,
                timeout=(min(10.0, self.config.timeout_s), self.config.timeout_s),
            )
        except requests.RequestException as exc:
            raise LrsUnavailable(
                N_("The learning record store did not answer: %(reason)s"),
                reason=type(exc).__name__,
            ) from exc


def _down(response: requests.Response) -> LrsUnavailable:
    return LrsUnavailable(
        N_("The learning record store answered %(http_status)s: %(reason)s"),
        http_status=response.status_code,
        reason=response.text[:200],
    )


def _deliver_one_by_one(client: _Client, batch: list[dict[str, Any]], report: PassReport) -> None:
    for st in batch:
        response = client.post([st])
        if response.status_code in (200, 204):
            _mark([st["id"]], SENT)
            report.sent += 1
        elif response.status_code == 409:
            # The LRS already holds this id: delivered before (our mark was lost).
            _mark([st["id"]], SENT, "already held by the LRS")
            report.already_held += 1
        elif response.status_code == 400:
            _mark([st["id"]], REJECTED, response.text[:500])
            report.rejected += 1
        else:
            raise _down(response)


def run_pass(config: LrsConfig, *, max_batches: int | None = None) -> PassReport:
    """Queue new events and deliver waiting statements until none is left or the LRS fails.

    Raises nothing for an LRS that is down: the report's ``error`` says why the pass stopped
    and the statements stay queued for the next pass.
    """
    report = PassReport(queued=enqueue())
    client = _Client(config)
    base = xapi.base_url(config.public_url)
    while max_batches is None or len(report.batches) < max_batches:
        ids = [
            row[0]
            for row in _sql(
                "SELECT statement_id FROM lrs_queue WHERE state = ? ORDER BY event_pk LIMIT ?",
                (PENDING, config.batch_size),
            )
        ]
        if not ids:
            break
        rows = {r.event_id: r for r in xapi.load_rows(ids=ids)}
        batch = [xapi.statement(rows[i], base, names=config.names) for i in ids if i in rows]
        try:
            response = client.post(batch)
            if response.status_code in (200, 204):
                _mark(ids, SENT)
                report.sent += len(ids)
            elif response.status_code in (400, 409):
                _deliver_one_by_one(client, batch, report)
            else:
                raise _down(response)
        except LrsUnavailable as exc:
            _failed(ids, exc.message)
            report.error = exc.message
            log.warning("forwarding to the LRS stopped: %s", exc.message)
            break
        report.batches.append(len(ids))
    return report


def retry_rejected() -> int:
    """Put statements the LRS refused back in the queue; return how many."""
    cursor = database.execute_sql(
        "UPDATE lrs_queue SET state = ? WHERE state = ?".replace("?", database.param),
        (PENDING, REJECTED),
    )
    return max(cursor.rowcount, 0)
