"""Logging, configured once at the entry point: stderr plus a rotating file in the data home."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str, log_dir: Path | None, filename: str = "kru.log") -> None:
    """Send logs at ``level`` to stderr and, when ``log_dir`` is given, to a rotating file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(stream)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            log_dir / filename, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
        rotating.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(rotating)
    # waitress logs every queue backlog at WARNING; keep it, but not its per-request noise.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
