"""What the site reports to central at each sync (protocol 2): Kru version, power, disk, clock.

Central's dashboard shows it per site (issue 19 items 5-6, issue 20 item 6): a Pi on a weak
power supply, a filling SD card, a clock never synchronised. The same status rides in the
header of each batch, so a site that syncs only by USB drive is known too.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from edge_server.base import diskspace
from edge_server.base.datahome import DataHome
from edge_server.base.settings import Settings
from edge_server.system import clock, power

from .. import protocol, usb_protocol


def kru_version() -> str:
    try:
        return version("kru")
    except PackageNotFoundError:
        return "0+unknown"


def machine(settings: Settings) -> str:
    """Return this machine's fingerprint (``protocol.machine_fingerprint`` of its id).

    The id is the first of ``sync.machine_id_files`` that can be read: on a Pi its serial
    number, which stays with the board when its SD card is copied or replaced (so a copied
    card in a second Pi is told apart, and a new card in the same Pi is not), elsewhere
    ``/etc/machine-id``.
    """
    for name in settings["sync.machine_id_files"]:
        try:
            machine_id = Path(name).read_text(encoding="ascii").strip("\x00\n\t ")
        except (OSError, UnicodeDecodeError):
            continue
        if machine_id:
            return protocol.machine_fingerprint(machine_id)
    return protocol.NO_MACHINE


def site_status(settings: Settings, home: DataHome) -> dict[str, Any]:
    """Return the status the site sends: Kru version, clock epoch, power, disk, clock."""
    disk = diskspace.status(home.root, settings)
    return {
        "kru_version": kru_version(),
        "epoch": usb_protocol.current_boot(),
        "bases": usb_protocol.epoch_bases(),
        "power": power.read(settings["system.throttled_file"]),
        "disk": {k: disk[k] for k in ("free_bytes", "total_bytes", "warn_bytes", "low")},
        "clock": {"synchronised": clock.synchronised(settings)},
    }
