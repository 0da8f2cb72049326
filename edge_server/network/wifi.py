"""How many phones are on the site Wi-Fi, for the site admin page.

Asks ``iw dev <wifi.interface> station dump`` (one "Station" block per connected client).
Where that cannot answer (no iw, no such interface, an external access point) the count is
unknown, never a made-up zero.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import Any

log = logging.getLogger(__name__)

# The Pi's built-in radio with stock firmware serves about this many phones well.
BUILTIN_COMFORTABLE = 10
TIMEOUT_S = 2.0


def count_clients(interface: str) -> int | None:
    """Return the number of Wi-Fi clients associated with ``interface``, or None if unknown."""
    iw = shutil.which("iw") or next(
        (p for p in ("/usr/sbin/iw", "/sbin/iw") if os.access(p, os.X_OK)), None
    )
    if iw is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument list
            [iw, "dev", interface, "station", "dump"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("cannot ask iw about %s: %s", interface, exc)
        return None
    if done.returncode != 0:
        log.info("iw dev %s station dump: %s", interface, done.stderr.strip())
        return None
    return sum(1 for line in done.stdout.splitlines() if line.startswith("Station "))


def wifi_panel(app_config: Any) -> dict[str, Any]:
    """Return what the site page's Wi-Fi panel shows."""
    interface = app_config["KRU"]["wifi.interface"]
    clients = count_clients(interface)
    return {
        "interface": interface,
        "clients": clients,
        "crowded": clients is not None and clients > BUILTIN_COMFORTABLE,
        "comfortable": BUILTIN_COMFORTABLE,
    }
