"""The modem panel of the site admin page: the same status dict as ``kru modem status --json``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .heartbeat import history
from .modem import modem_status

log = logging.getLogger(__name__)


def panel(app_config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the modem status and the latest SMS attempt for the admin page."""
    settings = app_config["KRU"]
    status = modem_status(settings)
    try:
        recent = history(settings, limit=1)
    except Exception:  # noqa: BLE001 - the admin page must render without the SMS log
        log.exception("cannot read the SMS log")
        recent = []
    return {
        "status": status,
        "last_sms": recent[0] if recent else None,
        "heartbeat_on": bool(settings["modem.sms_heartbeat"]),
    }
