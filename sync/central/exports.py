"""The ministry's exports: sites and course completion as CSV or XLSX, filtered (no Flask).

A filter narrows an export by province, site, course and a date range. Dates are days of the
ministry's time zone (setting ``central.time_zone``, default Asia/Phnom_Penh): ``from`` is
the first day, ``to`` the last, both included. With a date range, completion counts the
learners who did something on the course within it and the items their site had decided
completed or passed by its last day. Times in the files are shown in the same zone, which
the column heading names; storage stays UTC.

XLSX files are written by XlsxWriter with every text cell written as text: a name that
starts with ``=`` stays a name in Excel and LibreOffice, never a formula (the CSV writer
quotes such cells for the same reason).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from edge_server.base.localtime import local_text, zone

from . import reports
from .models import Device

TABLES = ("sites", "completion")
FORMATS = ("csv", "xlsx")
MAX_DAYS = 3660  # ten years: a longer range is a typing mistake


class ExportError(ValueError):
    """A filter that cannot be applied; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ExportFilter:
    province: str = ""
    site: str = ""  # a device id
    course: str = ""  # a course key
    first_day: date | None = None
    last_day: date | None = None

    def period_ms(self, zone_name: str) -> tuple[int, int] | None:
        """Return the first and last millisecond (UTC) of the date range, or None for all time."""
        if self.first_day is None and self.last_day is None:
            return None
        tz = zone(zone_name)
        start = (
            int(datetime.combine(self.first_day, time.min, tz).timestamp() * 1000)
            if self.first_day
            else 0
        )
        end_day = (self.last_day or date.max - timedelta(days=1)) + timedelta(days=1)
        end = int(datetime.combine(end_day, time.min, tz).timestamp() * 1000) - 1
        return start, end

    def name_part(self) -> str:
        """Return what the filter narrows to, for the file name (empty for everything)."""
        parts = [self.province, self.site, self.course]
        if self.first_day or self.last_day:
            parts.append(f"{self.first_day or ''}_{self.last_day or ''}")
        return "-".join("".join(_keep(ch) for ch in p) for p in parts if p)


def _keep(ch: str) -> str:
    """Return ``ch`` if a file name may hold it (letters of any script with their vowel
    signs, digits, ``-`` and ``_``), else ``-``."""
    return ch if ch.isalnum() or ch in "-_" or unicodedata.category(ch).startswith("M") else "-"


def _day(value: str, which: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ExportError(
            "bad_date", f"{which} must be a date written YYYY-MM-DD, not {value[:40]!r}"
        ) from None


def parse_filter(args: Mapping[str, str]) -> ExportFilter:
    """Return the filter given as query parameters ``province``, ``site``, ``course``,
    ``from`` and ``to`` (``YYYY-MM-DD``).

    Raises:
        ExportError: a date is unreadable, the range ends before it starts or spans more than
            ten years, or the site is not registered.
    """
    first = _day(args.get("from", "").strip(), "from")
    last = _day(args.get("to", "").strip(), "to")
    if first and last and last < first:
        raise ExportError("bad_date_range", "the date range ends before it starts")
    if first and last and (last - first).days > MAX_DAYS:
        raise ExportError("bad_date_range", "the date range is longer than ten years")
    site = args.get("site", "").strip()
    if site and Device.get_or_none(Device.device_id == site) is None:
        raise ExportError("unknown_site", f"no site is registered as {site[:64]!r}")
    return ExportFilter(
        province=args.get("province", "").strip(),
        site=site,
        course=args.get("course", "").strip(),
        first_day=first,
        last_day=last,
    )


def _devices(flt: ExportFilter) -> list[Device]:
    query = Device.select().order_by(Device.province, Device.name)
    if flt.province:
        query = query.where(Device.province == flt.province)
    if flt.site:
        query = query.where(Device.device_id == flt.site)
    return list(query)


def sites_rows(flt: ExportFilter, zone_name: str) -> Iterator[list[Any]]:
    """Yield the header and one row per site (province and site filters apply)."""
    yield [
        "id",
        "name",
        "province",
        "site_kind",
        "enabled",
        f"last_seen_at ({zone_name})",
        "events_received",
        "backlog",
        "clock_offset_s",
    ]
    for d in _devices(flt):
        yield [
            d.device_id,
            d.name,
            d.province,
            d.site_kind,
            bool(d.enabled),
            local_text(d.last_seen_at, zone_name, seconds=True) if d.last_seen_at else None,
            d.events_received,
            d.backlog,
            d.clock_offset_s,
        ]


def completion_rows(flt: ExportFilter, zone_name: str) -> Iterator[list[Any]]:
    """Yield the header and one row per site and course (every filter applies)."""
    yield [
        "device_id",
        "site",
        "province",
        "course_key",
        "course_title_en",
        "course_title_km",
        "learners_started",
        "learners_completed",
        "completion_pct",
        f"from ({zone_name})",
        f"to ({zone_name})",
    ]
    devices = {d.id: d for d in _devices(flt)}
    by_site = reports.completion_by_site(flt.period_ms(zone_name))
    for dev_pk, courses in sorted(by_site.items(), key=lambda kv: _order(devices, kv[0])):
        device = devices.get(dev_pk)
        if device is None:
            continue
        for c in courses:
            if flt.course and c.course_key != flt.course:
                continue
            yield [
                device.device_id,
                device.name,
                device.province,
                c.course_key,
                c.title_en,
                c.title_km,
                c.learners,
                c.completed,
                round(100 * c.completion, 1),
                flt.first_day.isoformat() if flt.first_day else None,
                flt.last_day.isoformat() if flt.last_day else None,
            ]


def _order(devices: dict[int, Device], pk: int) -> tuple[str, str]:
    d = devices.get(pk)
    return (d.province or "", d.name or "") if d else ("", "")


def rows(table: str, flt: ExportFilter, zone_name: str) -> Iterator[list[Any]]:
    """Yield the header and rows of export ``table`` (one of ``TABLES``)."""
    if table == "sites":
        return sites_rows(flt, zone_name)
    if table == "completion":
        return completion_rows(flt, zone_name)
    raise ExportError("unknown_export", f"no export is called {table[:40]!r}")


def file_name(table: str, flt: ExportFilter, fmt: str) -> str:
    """Return ``kru-<table>[-<filter>].<fmt>``."""
    part = flt.name_part()
    return f"kru-{table}{'-' + part if part else ''}.{fmt}"


def disposition(name: str) -> str:
    """Return a Content-Disposition header downloading as ``name``: a Khmer province stays
    Khmer in browsers (RFC 6266 ``filename*``), older clients get an ASCII name."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def xlsx_bytes(table_rows: Iterator[list[Any]], sheet: str) -> bytes:
    """Return an XLSX workbook of one sheet holding ``table_rows`` (the first is the header)."""
    import xlsxwriter  # only when a workbook is asked for: start-up stays light

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    ws = book.add_worksheet(sheet[:31])
    widths: dict[int, int] = {}
    for r, row in enumerate(table_rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                ws.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, str(value), bold if r == 0 else None)
            widths[c] = max(widths.get(c, 8), min(60, len(str(value)) + 2))
    for c, width in widths.items():
        ws.set_column(c, c, width)
    ws.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
