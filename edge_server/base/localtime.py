"""Times shown to people are local to the site (setting ``time_zone``); storage stays UTC.

Before this, every screen showed UTC, seven hours off in Cambodia (issue 14 item 12). No
Flask here: the Jinja filter ``localtime`` (edge_server.web.i18n) and the CSV exports call these.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date

DEFAULT_ZONE = "Asia/Phnom_Penh"


def zone(name: str) -> ZoneInfo:
    """Return the time zone called ``name`` (an IANA name such as ``Asia/Phnom_Penh``).

    Raises:
        ValueError: there is no such time zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name: Asia/Phnom_Penh)") from exc


def parse_utc(value: object) -> datetime | None:
    """Return a stored time (ISO 8601 text, naive meaning UTC, or seconds since 1970) as an
    aware datetime, or None for an empty or unreadable value."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_text(value: object, zone_name: str, *, seconds: bool = False) -> str:
    """Return ``value`` as local ``YYYY-MM-DD HH:MM`` (``:SS`` with ``seconds``) in the zone,
    or the value unchanged as text when it is not a time."""
    moment = parse_utc(value)
    if moment is None:
        return "" if value is None else str(value)
    shown = moment.astimezone(zone(zone_name))
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def date_words(value: object, lang: str) -> str:
    """Return a ``YYYY-MM-DD`` date as people write it: "20 ធ្នូ 2026" in Khmer (digits are
    made Khmer by the caller), "20 Dec 2026" in English; other text unchanged."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return "" if value is None else str(value)
    return format_date(day, "d MMMM y" if lang == "km" else "d MMM y", locale=lang)


def is_past(value: object, zone_name: str, now: datetime | None = None) -> bool:
    """Return whether a ``YYYY-MM-DD`` date is before today in the zone (False if unreadable)."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return False
    today = (now or datetime.now(UTC)).astimezone(zone(zone_name)).date()
    return day < today
