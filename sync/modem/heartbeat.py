"""SMS heartbeat: when a site has had no data link for long, text the ministry one line.

The sync daemon calls ``maybe_send_heartbeat(settings, status)`` once per cycle with the
sync status. A heartbeat goes out when ``modem.sms_heartbeat`` is on, the last successful
sync is older than ``modem.sms_after_hours`` (or there never was one), fewer than
``modem.sms_max_per_day`` heartbeats were sent in the last 24 hours, and no attempt failed
in the last hour. Every attempt, sent or failed, is a row in ``modem_sms``.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from edge_server.base.db import db
from edge_server.base.errors import N_, KruError, ValidationError

from .at import AtClient, AtError, AtTimeout
from .status import BUSY_WAIT_S, find_port

log = logging.getLogger(__name__)

DAY = timedelta(hours=24)
RETRY_AFTER_FAILURE = timedelta(hours=1)  # a modem without credit is not asked every cycle
SMS_TIMEOUT_FACTOR = 10  # an SMS submit takes seconds on a real network, not milliseconds
MAX_SMS = 160  # one GSM-7 text message
_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")


class SmsError(KruError):
    code = "sms_failed"
    status = 502


@dataclass(frozen=True)
class SmsRecord:
    created_at: str
    kind: str
    number: str
    body: str
    outcome: str
    detail: str
    reference: int | None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def _connection() -> Iterator[None]:
    """Hold a connection of the shared handle on the site database (opened by the caller:
    the sync daemon, ``kru modem``, the site server) for a few statements."""
    opened = db.is_closed()
    if opened:
        db.connect()
    try:
        yield
    finally:
        if opened:
            db.close()


def check_number(number: str) -> str:
    """Return ``number`` without spaces or dashes.

    Raises:
        ValidationError: it is empty or not a phone number (``+85512345678``).
    """
    cleaned = re.sub(r"[\s\-()]", "", number or "")
    if not _NUMBER.match(cleaned):
        raise ValidationError(
            N_("Set modem.sms_number to a phone number such as +85512345678 (got %(number)s)"),
            code="bad_sms_number",
            number=repr(number),
        )
    return cleaned


def compose(settings: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    """Return the heartbeat text: site id, pending events, last successful sync, free disk."""
    site = str(status.get("device_id") or settings.get("site_name") or "unknown")
    site = re.sub(r"[^A-Za-z0-9_.:-]", "", site)[:40] or "unknown"
    last = _parse_time(status.get("last_success_at"))
    last_text = last.strftime("%Y-%m-%dT%H:%MZ") if last else "never"
    try:
        free_gb = shutil.disk_usage(settings["data_dir"]).free / 1e9
        free_text = f"{free_gb:.1f}GB"
    except OSError:
        free_text = "?"
    pending = status.get("pending_events")
    text = (
        f"KRU HB site={site} pending={pending if pending is not None else '?'} "
        f"lastsync={last_text} free={free_text}"
    )
    return text[:MAX_SMS]


def send_sms(port: str, baud: int, timeout: float, number: str, text: str) -> int:
    """Send ``text`` to ``number`` in text mode and return the modem's message reference.

    Raises:
        SmsError: the modem refused, went silent or vanished.
    """
    try:
        client = AtClient(port, baud, timeout).open_when_free(min(timeout, BUSY_WAIT_S))
        with client:
            client.command("ATE0")
            mode = client.command("AT+CMGF=1")
            if not mode.ok:
                raise SmsError(N_("The modem refused text mode: %(answer)s"), answer=mode.final)
            answer = client.command(
                f'AT+CMGS="{number}"',
                "+CMGS:",
                timeout=timeout * SMS_TIMEOUT_FACTOR,
                payload=text,
            )
    except AtTimeout as exc:
        raise SmsError(N_("The modem did not answer %(command)s"), command=exc.command) from exc
    except AtError as exc:
        raise SmsError(N_("The modem is not reachable: %(problem)s"), problem=str(exc)) from exc
    if not answer.ok:
        raise SmsError(N_("The modem could not send the SMS: %(answer)s"), answer=answer.final)
    refs = answer.prefixed("+CMGS:")
    try:
        return int(refs[0]) if refs else 0
    except ValueError:
        return 0


def _record(kind: str, number: str, body: str, outcome: str, detail: str, ref: int | None) -> None:
    with db.atomic():
        db.execute_sql(
            "INSERT INTO modem_sms (created_at, kind, number, body, outcome, detail, reference)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_iso(datetime.now(UTC)), kind, number, body, outcome, detail, ref),
        )


def history(settings: Mapping[str, Any], limit: int = 20) -> list[SmsRecord]:
    """Return the latest SMS attempts, newest first."""
    with _connection():
        rows = db.execute_sql(
            "SELECT created_at, kind, number, body, outcome, detail, reference FROM modem_sms"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return [SmsRecord(*row) for row in rows]


def _count_since(outcome: str, since: datetime) -> int:
    row = db.execute_sql(
        "SELECT COUNT(*) FROM modem_sms WHERE kind = 'heartbeat' AND outcome = ? "
        "AND created_at > ?",
        (outcome, _iso(since)),
    ).fetchone()
    return int(row[0])


def send_heartbeat(
    settings: Mapping[str, Any], status: Mapping[str, Any], kind: str = "heartbeat"
) -> int:
    """Send a heartbeat now, whatever the schedule, and record it; return the reference.

    Raises:
        ValidationError: modem.sms_number is not a phone number.
        SmsError: no modem, or the modem could not send (the failure is recorded).
    """
    number = check_number(settings["modem.sms_number"])
    body = compose(settings, status)
    baud, timeout = settings["modem.baud"], settings["modem.timeout_s"]
    with _connection():
        try:
            port = settings["modem.port"]
            if port == "none":
                raise SmsError(N_("The modem is turned off (modem.port = none)"))
            if port == "auto":
                port = find_port(baud)
                if port is None:
                    raise SmsError(N_("No modem found to send the SMS"))
            ref = send_sms(port, baud, timeout, number, body)
        except SmsError as exc:
            log.warning("heartbeat SMS failed: %s", exc.message)
            _record(kind, number, body, "failed", exc.message, None)
            raise
        _record(kind, number, body, "sent", "", ref)
    log.info("heartbeat SMS sent to the ministry number (reference %s)", ref)
    return ref


def heartbeat_due(
    settings: Mapping[str, Any], status: Mapping[str, Any], now: datetime | None = None
) -> str | None:
    """Return None when a heartbeat should go out now, else the reason it should not."""
    now = now or datetime.now(UTC)
    if not settings["modem.sms_heartbeat"]:
        return "modem.sms_heartbeat is off"
    if settings["modem.port"] == "none":
        return "the modem is turned off (modem.port = none)"
    last = _parse_time(status.get("last_success_at"))
    if last is not None and now - last < timedelta(hours=settings["modem.sms_after_hours"]):
        return "the data link worked recently"
    with _connection():
        if _count_since("sent", now - DAY) >= settings["modem.sms_max_per_day"]:
            return "the daily maximum of heartbeats was reached"
        if _count_since("failed", now - RETRY_AFTER_FAILURE) > 0:
            return "the last attempt failed less than an hour ago"
    return None


def maybe_send_heartbeat(
    settings: Mapping[str, Any], status: Mapping[str, Any], now: datetime | None = None
) -> bool:
    """Send a heartbeat SMS if one is due; return whether one was sent. Never raises."""
    try:
        reason = heartbeat_due(settings, status, now)
        if reason is not None:
            log.debug("no heartbeat: %s", reason)
            return False
        send_heartbeat(settings, status)
        return True
    except KruError as exc:
        log.warning("no heartbeat: %s", exc.message)
        return False
    except Exception:  # the sync daemon must keep running
        log.exception("heartbeat failed")
        return False
