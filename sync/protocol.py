"""The sync protocol shared by the edge agent and the central server (docs/sync-protocol.md).

Versions, limits, header names and error codes are named constants here so both ends
agree by construction. Batches are gzip NDJSON: a header object, one dictionary object
(users, cohorts, items, verbs, boot ids), one array per event with repeated fields replaced
by indexes and times by deltas, then a trailer object. Requests are signed with HMAC-SHA256.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
import uuid
import zlib
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from edge_server.base import jsonlimits
from edge_server.base.errors import N_, KruError

# --- versions and negotiation --------------------------------------------------------------
# 2 (issues 19 and 20): events and batches carry the clock epoch (boot id plus the clock's
# changes within the boot), requests are signed with the machine's fingerprint too, batches
# carry the site's status (power, disk, Kru version) and the site reports it at each sync.
PROTOCOL_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)

# --- endpoints -----------------------------------------------------------------------------
HELLO_PATH = "/api/v1/sync/hello"
BATCHES_PATH = "/api/v1/sync/batches"
STATUS_PATH = "/api/v1/sync/status"  # version 2: the site's status at each sync

# --- headers -------------------------------------------------------------------------------
H_PROTOCOL = "X-Kru-Protocol"
H_DEVICE = "X-Kru-Device"
H_BATCH = "X-Kru-Batch"
H_CLOCK = "X-Kru-Clock"  # the Pi's clock, Unix epoch milliseconds
H_DIGEST = "X-Kru-Content-SHA256"
H_SIGNATURE = "X-Kru-Signature"
# Version 2: a fingerprint of the machine (sha256 of /etc/machine-id), signed with the rest:
# one identity seen from two machines (a cloned SD card) is an identity clash.
H_MACHINE = "X-Kru-Machine"
NO_MACHINE = "-"  # a machine without /etc/machine-id
NO_BATCH = "-"  # the batch id of requests that carry no batch (hello)
SIGNING_PREFIX = "KRU-HMAC-SHA256"

# --- limits --------------------------------------------------------------------------------
MAX_BODY_BYTES = 8 * 1024 * 1024  # compressed body
MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024  # gzip bomb guard
MAX_EVENTS_PER_BATCH = 20_000
MAX_LINE_BYTES = 256 * 1024
MAX_ID_CHARS = 100
# An event's context as JSON text (``json_size``): the site refuses a larger one from a phone
# and never stores one, and the central server refuses a batch holding one (413
# ``event_too_large``, so the agent narrows it down to the one event and quarantines it).
MAX_CONTEXT_CHARS = 20_000
MAX_STATUS_BYTES = 16 * 1024  # the status report's JSON body
MAX_MACHINE_CHARS = 64

# --- time spent (docs/progress-rules.md, "Time spent") -----------------------------------------
# Longest time one event may add; a phone asleep for hours must not count as study.
MAX_EVENT_SECONDS = 3600


def seconds_spent(result: Any) -> int:
    """Return the seconds of study one event adds: its ``result.duration_s``, at most
    ``MAX_EVENT_SECONDS``, rounded to a whole second; 0 when it has none.

    The one definition of time spent: the site's summaries and every figure on the central
    server add up this, event by event.
    """
    duration = result.get("duration_s") if isinstance(result, dict) else None
    if isinstance(duration, int | float) and duration > 0:
        return int(round(min(duration, MAX_EVENT_SECONDS)))
    return 0


# --- error codes (stable; the JSON body's error.code) ---------------------------------------
E_MISSING_HEADER = "missing_header"  # 400, fix the client
E_UNSUPPORTED_PROTOCOL = "unsupported_protocol"  # 400, body lists "supported"
E_UNKNOWN_DEVICE = "unknown_device"  # 401
E_BAD_SIGNATURE = "bad_signature"  # 401
E_DEVICE_DISABLED = "device_disabled"  # 403
E_DIGEST_MISMATCH = "body_digest_mismatch"  # 400, damaged in transit: retry
E_MALFORMED_BATCH = "malformed_batch"  # 400, quarantine, never retry
E_BATCH_TOO_LARGE = "batch_too_large"  # 413, send smaller batches
E_EVENT_TOO_LARGE = "event_too_large"  # 413, an event's context passes MAX_CONTEXT_CHARS
E_BUSY = "server_busy"  # 503 with Retry-After
E_IDENTITY_CLASH = "identity_clash"  # 409, another machine holds this identity: ask an admin
E_BAD_STATUS = "bad_status"  # 400, the status report is not a JSON object

RETRYABLE_CODES = frozenset({E_DIGEST_MISMATCH, E_BUSY})
QUARANTINE_CODES = frozenset({E_MALFORMED_BATCH})

# --- decisions: the site decides, central reports (docs/progress-rules.md) --------------------
# The site records each status it gives a learner on an item (completed, passed, failed) as an
# event of that verb, with an id derived from learner, item and status: making it again (a
# rebuild, a resend) never makes a second one, and the central server tells a decision from a
# phone's event of the same verb by recomputing the id. Central counts only decisions.
DECISION_VERBS = ("completed", "passed", "failed")
DECISION_NAMESPACE = uuid.UUID("5d1c6f0e-2a8b-4c3e-9f47-6b7275000010")

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class ProtocolError(KruError):
    """A batch or request that does not follow the protocol."""

    code = E_MALFORMED_BATCH
    status = 400


def decision_id(user_uid: str, item: str, decision: str) -> str:
    """Return the id of the site's ``decision`` on ``item`` for the learner ``user_uid``."""
    return str(uuid.uuid5(DECISION_NAMESPACE, f"{user_uid}\n{item}\n{decision}"))


def is_decision(event_id: str, user_uid: str, item: str, verb: str) -> bool:
    """Return whether an event is a decision the site made (not a phone's claim)."""
    return verb in DECISION_VERBS and event_id == decision_id(user_uid, item, verb)


def json_size(value: Any) -> int:
    """Return the length of ``value`` as JSON text, measured alike at both ends."""
    return len(json.dumps(value, ensure_ascii=False))


# --- signing -------------------------------------------------------------------------------


def body_digest(body: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``body``."""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(
    method: str,
    path: str,
    device_id: str,
    batch_id: str,
    clock_ms: int | str,
    digest: str,
    machine: str | None = None,
) -> bytes:
    """Return the canonical text that the signature covers (version 2 adds ``machine``)."""
    parts = [SIGNING_PREFIX, method.upper(), path, device_id, batch_id, str(clock_ms), digest]
    if machine is not None:
        parts.append(machine)
    return "\n".join(parts).encode()


def machine_fingerprint(machine_id: str) -> str:
    """Return the fingerprint a site sends for its machine id (never the id itself)."""
    if not machine_id:
        return NO_MACHINE
    return hashlib.sha256(f"kru-machine:{machine_id}".encode()).hexdigest()[:32]


def sign(secret: str, message: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``message`` under the device secret."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    method: str,
    path: str,
    device_id: str,
    batch_id: str,
    body: bytes,
    clock_ms: int,
    version: int = PROTOCOL_VERSION,
    machine: str = NO_MACHINE,
) -> dict[str, str]:
    """Return the headers of one signed request (``machine``: the fingerprint, version 2)."""
    digest = body_digest(body)
    signed_machine = (machine or NO_MACHINE) if version >= 2 else None
    signature = sign(
        secret,
        string_to_sign(method, path, device_id, batch_id, clock_ms, digest, signed_machine),
    )
    headers = {
        H_PROTOCOL: str(version),
        H_DEVICE: device_id,
        H_BATCH: batch_id,
        H_CLOCK: str(clock_ms),
        H_DIGEST: digest,
        H_SIGNATURE: signature,
    }
    if signed_machine is not None:
        headers[H_MACHINE] = signed_machine
    return headers


def verify_signature(secret: str, message: bytes, signature: str) -> bool:
    """Return whether ``signature`` is the HMAC of ``message`` (constant-time compare)."""
    return hmac.compare_digest(sign(secret, message), (signature or "").lower())


def negotiate(offered: list[int] | tuple[int, ...]) -> int | None:
    """Return the highest version both ends speak, or None."""
    common = set(offered) & set(SUPPORTED_VERSIONS)
    return max(common) if common else None


# --- batch data ----------------------------------------------------------------------------


@dataclass
class EventRecord:
    seq: int
    id: str
    user_uid: str
    verb: str
    object: str
    result: Any
    context: Any
    client_ts: str | None
    server_ms: int
    boot_id: str  # the clock epoch the event was recorded in (a boot id in version 1)


@dataclass
class UserRecord:
    uid: str
    username: str
    display_name: str
    role: str
    # The national teacher id from the site's class list (1.4): "" for none, None when the
    # batch came from a Kru that does not send them (then the receiver keeps what it has).
    national_id: str | None = None


@dataclass
class CohortRecord:
    uid: str
    name: str
    members: list[str]


@dataclass
class ItemRecord:
    key: str
    type: str = ""
    title_km: str = ""
    title_en: str = ""
    course_key: str = ""
    course_title_km: str = ""
    course_title_en: str = ""
    course_items: int = 0  # items that count towards the course's completion
    counts: bool = True  # this item counts (required, or its course has no required items)


# The fields of an item record, in the order a batch's dictionary lists them.
ITEM_FIELDS = tuple(f.name for f in fields(ItemRecord))


@dataclass
class Batch:
    batch_id: str
    device_id: str
    after: int
    last: int
    clock_ms: int
    backlog: int = 0
    acked: int | None = None  # the site's last acknowledgement; below ``after`` after quarantine
    site: dict[str, Any] = field(default_factory=dict)
    modem: dict[str, Any] | None = None
    decisions: bool = True  # the site sends its decisions (false in batches of older sites)
    boot: str = ""  # the Pi's clock epoch when it built the batch (its boot id in 1.3)
    status: dict[str, Any] | None = None  # the site's status (version 2): power, disk, Kru
    # version 2: wall clock minus time since boot (ms) in each epoch of the current boot
    bases: dict[str, int] = field(default_factory=dict)
    version: int = PROTOCOL_VERSION  # the version it is encoded in
    users: list[UserRecord] = field(default_factory=list)
    cohorts: list[CohortRecord] = field(default_factory=list)
    items: list[ItemRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)


def batch_id_for(device_id: str, after: int, last: int) -> str:
    """Return the id of the batch of ``device_id`` covering sequences (after, last].

    Deterministic, so a batch resent after a power cut is recognised as a replay and the
    site keeps nothing on disk per attempt.
    """
    return hashlib.sha256(f"{device_id}:{after}:{last}".encode()).hexdigest()[:24]


def ts_to_ms(text: str) -> int | None:
    """Return ISO 8601 ``text`` as Unix epoch milliseconds (naive means UTC), or None."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(round(moment.timestamp() * 1000))


def ms_to_ts(ms: int) -> str:
    """Return epoch milliseconds as ISO 8601 UTC text.

    Raises:
        OverflowError, ValueError, OSError: outside the years 1-9999.
    """
    seconds, millis = divmod(ms, 1000)
    return f"{_utc_second(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=4096)
def _utc_second(seconds: int) -> str:
    """Return ``YYYY-MM-DDTHH:MM:SS`` of an epoch second: a batch's events share their
    seconds, and central ingest wrote the whole text per event (issue 22)."""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")[:19]


def _pack_id(event_id: str) -> str:
    return event_id.replace("-", "") if _UUID_RE.match(event_id) else "~" + event_id


def _unpack_id(value: Any, line: int) -> str:
    if isinstance(value, str) and _HEX32.match(value):
        v = value
        return f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
    if isinstance(value, str) and value.startswith("~") and 1 < len(value) <= MAX_ID_CHARS + 1:
        return value[1:]
    raise _bad(line, "event id")


def encode_batch(batch: Batch, compresslevel: int = 6) -> bytes:
    """Return ``batch`` as gzip NDJSON (header, dictionary, events, trailer)."""
    users = {u.uid: i for i, u in enumerate(batch.users)}
    items = {it.key: i for i, it in enumerate(batch.items)}
    verbs: dict[str, int] = {}
    boots: dict[str, int] = {}
    for ev in batch.events:
        verbs.setdefault(ev.verb, len(verbs))
        boots.setdefault(ev.boot_id, len(boots))
    base = batch.events[0].server_ms if batch.events else 0
    header = {
        "kru": batch.version,
        "batch": batch.batch_id,
        "device": batch.device_id,
        "after": batch.after,
        "last": batch.last,
        "count": len(batch.events),
        "clock": batch.clock_ms,
        "base": base,
        "backlog": batch.backlog,
        "acked": batch.after if batch.acked is None else batch.acked,
        "site": batch.site,
        "modem": batch.modem,
        "decisions": batch.decisions,
    }
    if batch.version >= 2:
        header["epoch"] = batch.boot
        header["status"] = batch.status
        header["bases"] = batch.bases
    elif batch.boot:
        header["boot"] = batch.boot
    dictionary = {
        "users": [[u.uid, u.username, u.display_name, u.role] for u in batch.users],
        "cohorts": [[c.uid, c.name, c.members] for c in batch.cohorts],
        "items": [
            [
                it.key,
                it.type,
                it.title_km,
                it.title_en,
                it.course_key,
                it.course_title_km,
                it.course_title_en,
                it.course_items,
                1 if it.counts else 0,
            ]
            for it in batch.items
        ],
        "verbs": list(verbs),
        ("epochs" if batch.version >= 2 else "boots"): list(boots),
    }
    if any(u.national_id is not None for u in batch.users):
        # 1.4: a separate dictionary field, so receivers of 1.3 ignore it; a user listed in
        # ``users`` and missing here has no national teacher id.
        dictionary["national_ids"] = {u.uid: u.national_id for u in batch.users if u.national_id}
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    lines = [dumps(header), dumps(dictionary)]
    prev_seq, prev_ms = batch.after, base
    for ev in batch.events:
        client: int | str | None = None
        if ev.client_ts is not None:
            client_ms = ts_to_ms(ev.client_ts)
            client = client_ms - ev.server_ms if client_ms is not None else "~" + ev.client_ts
        lines.append(
            dumps(
                [
                    ev.seq - prev_seq,
                    _pack_id(ev.id),
                    users[ev.user_uid],
                    verbs[ev.verb],
                    items[ev.object],
                    ev.server_ms - prev_ms,
                    client,
                    ev.result,
                    ev.context,
                    boots[ev.boot_id],
                ]
            )
        )
        prev_seq, prev_ms = ev.seq, ev.server_ms
    lines.append(dumps({"end": len(batch.events)}))
    raw = ("\n".join(lines) + "\n").encode()
    return gzip.compress(raw, compresslevel=compresslevel, mtime=0)


def _bad(line: int, what: str) -> ProtocolError:
    return ProtocolError(
        N_("The batch is malformed at line %(line)s: %(what)s"), line=line, what=what
    )


def gunzip_limited(body: bytes, limit: int = MAX_UNCOMPRESSED_BYTES) -> bytes:
    """Return the inflated ``body``.

    Raises:
        ProtocolError: not gzip, truncated, trailing garbage, or larger than ``limit``.
    """
    inflater = zlib.decompressobj(wbits=31)
    try:
        raw = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ProtocolError(
            N_("The batch is not valid gzip: %(problem)s"), problem=str(exc)
        ) from exc
    if len(raw) > limit:
        raise ProtocolError(
            N_("The batch inflates to more than %(limit)s bytes"),
            code=E_BATCH_TOO_LARGE,
            status=413,
            limit=limit,
        )
    if not inflater.eof or inflater.unused_data:
        raise ProtocolError(N_("The batch is not valid gzip: truncated or trailing data"))
    return raw


def _str(value: Any, line: int, what: str, limit: int = 1000) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _bad(line, what)
    return value


def _int(value: Any, line: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(line, what)
    return value


def _pick(values: list[str], index: Any, line: int, what: str) -> str:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(values):
        raise _bad(line, what)
    return values[index]


def _decode_dictionary(batch: Batch, d: Any) -> tuple[list[str], list[str]]:
    if not isinstance(d, dict):
        raise _bad(2, "dictionary object")
    try:
        batch.users = [
            UserRecord(*(_str(v, 2, "user") for v in row[:4])) for row in d.get("users", [])
        ]
        national = d.get("national_ids")
        if national is not None:
            if not isinstance(national, dict):
                raise _bad(2, "national ids")
            for user in batch.users:
                user.national_id = _str(national.get(user.uid, ""), 2, "national id", 64)
        batch.cohorts = [
            CohortRecord(
                _str(row[0], 2, "cohort uid"),
                _str(row[1], 2, "cohort name"),
                [_str(m, 2, "cohort member") for m in row[2]],
            )
            for row in d.get("cohorts", [])
        ]
        batch.items = [
            # mypy cannot count a starred generator: seven strings, then the ints.
            ItemRecord(  # type: ignore[call-arg]
                *(_str(v, 2, "item") for v in row[:7]),  # type: ignore[arg-type]
                _int(row[7], 2, "course_items"),
                # Older sites send 8 fields: every item of theirs counts.
                bool(_int(row[8], 2, "counts")) if len(row) > 8 else True,
            )
            for row in d.get("items", [])
        ]
        verbs = [_str(v, 2, "verb", 200) for v in d.get("verbs", [])]
        epochs: Any = d["epochs"] if "epochs" in d else d.get("boots", [])  # 2, or 1's boots
        boots = [_str(v, 2, "clock epoch", 200) for v in epochs]
    except (TypeError, IndexError) as exc:
        raise _bad(2, "dictionary rows") from exc
    return verbs, boots


def epoch_bases(value: Any, line: int = 1) -> dict[str, int]:
    """Return the epochs' bases of a batch header or status report (``{}`` when absent).

    Raises:
        ProtocolError: not an object of at most 100 epochs with whole-number bases.
    """
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 100:
        raise _bad(line, "bases")
    return {_str(k, line, "epoch", 200): _int(v, line, "base") for k, v in value.items()}


def decode_batch(body: bytes) -> Batch:
    """Return the batch in gzip NDJSON ``body``, checking every line.

    Raises:
        ProtocolError: the body is not a well-formed batch of a supported version.
    """
    raw = gunzip_limited(body)
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) < 3:
        raise _bad(len(lines), "a batch has a header, a dictionary and a trailer")
    parsed: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_BYTES:
            raise _bad(number, "line too long")
        try:
            parsed.append(jsonlimits.loads(line))
        except jsonlimits.JSONTooDeep as exc:
            raise _bad(number, f"JSON nested more than {jsonlimits.MAX_DEPTH} deep") from exc
        except ValueError as exc:
            raise _bad(number, "not JSON") from exc
    header = parsed[0]
    if not isinstance(header, dict) or header.get("kru") not in SUPPORTED_VERSIONS:
        raise _bad(1, "header with a supported protocol version")
    try:
        batch = Batch(
            batch_id=_str(header["batch"], 1, "batch", MAX_ID_CHARS),
            device_id=_str(header["device"], 1, "device", MAX_ID_CHARS),
            after=_int(header["after"], 1, "after"),
            last=_int(header["last"], 1, "last"),
            clock_ms=_int(header["clock"], 1, "clock"),
            backlog=_int(header.get("backlog", 0), 1, "backlog"),
            acked=_int(header.get("acked", header.get("after")), 1, "acked"),
            site=header.get("site") or {},
            modem=header.get("modem"),
            decisions=header.get("decisions") is True,
            boot=_str(header.get("epoch") or header.get("boot") or "", 1, "epoch", 200),
            status=header.get("status"),
            version=header["kru"],
        )
        count = _int(header["count"], 1, "count")
        base = _int(header["base"], 1, "base")
    except KeyError as exc:
        raise _bad(1, f"header field {exc}") from exc
    if not isinstance(batch.site, dict) or not (
        batch.modem is None or isinstance(batch.modem, dict)
    ):
        raise _bad(1, "site or modem")
    if not (batch.status is None or isinstance(batch.status, dict)):
        raise _bad(1, "status")
    batch.bases = epoch_bases(header.get("bases"), 1)
    if count > MAX_EVENTS_PER_BATCH:
        raise ProtocolError(
            N_("A batch may hold at most %(limit)s events"),
            code=E_BATCH_TOO_LARGE,
            status=413,
            limit=MAX_EVENTS_PER_BATCH,
        )
    verbs, boots = _decode_dictionary(batch, parsed[1])
    trailer = parsed[-1]
    if not isinstance(trailer, dict) or trailer.get("end") != count or len(parsed) - 3 != count:
        raise _bad(len(parsed), "trailer with the event count (truncated batch?)")
    users = [u.uid for u in batch.users]
    items = [it.key for it in batch.items]
    prev_seq, prev_ms = batch.after, base
    for number, row in enumerate(parsed[2:-1], start=3):
        if not isinstance(row, list) or len(row) != 10:
            raise _bad(number, "event array of 10 fields")
        try:
            seq = prev_seq + _int(row[0], number, "seq delta")
            server_ms = prev_ms + _int(row[5], number, "time delta")
            client = row[6]
            if isinstance(client, int) and not isinstance(client, bool):
                client_ts: str | None = ms_to_ts(server_ms + client)
            elif isinstance(client, str) and client.startswith("~"):
                client_ts = client[1:200]
            elif client is None:
                client_ts = None
            else:
                raise _bad(number, "client time")
            if row[8] is not None and json_size(row[8]) > MAX_CONTEXT_CHARS:
                raise ProtocolError(
                    N_(
                        "The event at line %(line)s has a context of %(size)s characters; "
                        "at most %(limit)s are accepted"
                    ),
                    code=E_EVENT_TOO_LARGE,
                    status=413,
                    details={"line": number, "limit": MAX_CONTEXT_CHARS},
                    line=number,
                    size=json_size(row[8]),
                    limit=MAX_CONTEXT_CHARS,
                )
            event = EventRecord(
                seq=seq,
                id=_unpack_id(row[1], number),
                user_uid=_pick(users, row[2], number, "user index"),
                verb=_pick(verbs, row[3], number, "verb index"),
                object=_pick(items, row[4], number, "item index"),
                result=row[7],
                context=row[8],
                client_ts=client_ts,
                server_ms=server_ms,
                boot_id=_pick(boots, row[9], number, "boot index"),
            )
        except (IndexError, OverflowError, ValueError, OSError) as exc:
            raise _bad(number, "index or time out of range") from exc
        if seq <= prev_seq or seq > batch.last:
            raise _bad(number, "sequence not increasing within (after, last]")
        batch.events.append(event)
        prev_seq, prev_ms = seq, server_ms
    if batch.last < batch.after:
        raise _bad(1, "last before after")
    return batch


# Rubric results in events (issue 15): task reviews (``reviewed``) and practicum observations
# (``observed``) list each criterion's level under this key of ``result.extensions``:
# [{"criterion", "competency": "CTPS.2.3" or null, "level", "max", "level_id"}]. The site
# writes it, central reports it, the competency profiles (issue 16) read it.
CRITERIA_EXTENSION = "https://kru.example/xapi/criteria"
# The four domains of the Cambodian Teacher Professional Standards, by the first number of a
# competency code ``CTPS.<domain>.<standard>.<indicator>``.
COMPETENCY_DOMAINS = {
    "1": {"km": "ចំណេះដឹងវិជ្ជាជីវៈ", "en": "Professional knowledge"},
    "2": {"km": "ការអនុវត្តវិជ្ជាជីវៈ", "en": "Professional practice"},
    "3": {"km": "ការរៀនសូត្រវិជ្ជាជីវៈ", "en": "Professional learning"},
    "4": {"km": "ក្រមសីលធម៌វិជ្ជាជីវៈ", "en": "Professional ethics"},
}


def competency_domain(code: str | None) -> str | None:
    """Return the domain ("1".."4") of a competency code such as ``CTPS.2.3``, or None."""
    if not code:
        return None
    parts = str(code).split(".")
    return parts[1] if len(parts) > 1 and parts[1] in COMPETENCY_DOMAINS else None
