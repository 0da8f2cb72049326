"""Logging, configured once at the entry point: stderr plus a rotating file in the data home.

Under systemd, stderr goes to the journal (capped by deploy/raspberrypi's journald-kru.conf),
so the file is not written as well: every log line on a Pi's SD card once, not twice
(issue 19, storage wear).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The id of the HTTP request being answered, set by the app that answers it (central's
# request_ids); JSON log lines carry it so one request's lines can be found together.
request_id: ContextVar[str | None] = ContextVar("kru_request_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: str, log_dir: Path | None, filename: str = "kru.log", fmt: str = "text"
) -> None:
    """Send logs at ``level`` to stderr and, when ``log_dir`` is given, to a rotating file.

    ``fmt`` is ``text`` (a line for people) or ``json`` (a line for a log collector). When
    stderr is the systemd journal (``JOURNAL_STREAM`` names it), there is no file.
    """
    formatter = JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    root.addHandler(stream)
    if log_dir is not None and not _stderr_is_journal():
        log_dir.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            log_dir / filename, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
        rotating.setFormatter(formatter)
        root.addHandler(rotating)
    # waitress logs every queue backlog at WARNING; keep it, but not its per-request noise.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def _stderr_is_journal() -> bool:
    """Whether stderr is connected to the journal (systemd sets ``JOURNAL_STREAM=dev:inode``)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)
