"""The modem panel of the site admin page: the same status dict as ``kru modem status --json``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import MutableMapping
from typing import Any

from .advice import advice, detail_words
from .heartbeat import history
from .status import modem_status

log = logging.getLogger(__name__)

# A silent modem costs a whole timeout per command; the site page must not wait that long
# on every load, nor stack up queries when several admins reload at once. The answer is
# remembered in the app's config, so each app (and each test's app) has its own.
MAX_AGE_S = 30.0
CACHE_KEY = "KRU_MODEM_STATUS_CACHE"
_lock = threading.Lock()


def cached_status(
    app_config: MutableMapping[str, Any], max_age: float = MAX_AGE_S
) -> dict[str, Any]:
    """Return the modem status, asking the modem at most once per ``max_age`` seconds.

    The dict gets ``checked_s_ago``: how old the answer is.
    """
    with _lock:  # one query at a time; the others wait for its answer
        hit = app_config.get(CACHE_KEY)
        if hit is None or time.monotonic() - hit[0] > max_age:
            hit = (time.monotonic(), modem_status(app_config["KRU"]))
            app_config[CACHE_KEY] = hit
        return {**hit[1], "checked_s_ago": int(time.monotonic() - hit[0])}


def panel(app_config: MutableMapping[str, Any]) -> dict[str, Any]:
    """Return the modem status and the latest SMS attempt for the admin page."""
    settings = app_config["KRU"]
    status = cached_status(app_config)
    try:
        recent = history(settings, limit=1)
    except Exception:  # the admin page must render without the SMS log
        log.exception("cannot read the SMS log")
        recent = []
    return {
        "status": status,
        "advice": advice(status),
        "detail_words": detail_words(status),
        "last_sms": recent[0] if recent else None,
        "heartbeat_on": bool(settings["modem.sms_heartbeat"]),
    }
