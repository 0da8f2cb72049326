"""Under-voltage and throttling, from the Raspberry Pi firmware's get_throttled flags.

The firmware keeps a bit field (``vcgencmd get_throttled``, also in sysfs as hex): the low
bits say what is happening now, bits 16-19 what happened since boot. A weak power supply is
the usual cause of SD card damage at rural sites, so the Site page names it plainly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# bit: (name, now?)
FLAGS = {
    0: "under_voltage",
    1: "frequency_capped",
    2: "throttled",
    3: "soft_temperature_limit",
    16: "under_voltage_since_boot",
    17: "frequency_capped_since_boot",
    18: "throttled_since_boot",
    19: "soft_temperature_limit_since_boot",
}
POWER_BITS = (0, 16)  # under-voltage: change the power supply
HEAT_BITS = (3, 19)


def parse(text: str) -> int:
    """Return the flags from ``throttled=0x50005``, ``0x50005`` or ``50005``.

    Raises:
        ValueError: the text is not a hexadecimal number.
    """
    value = text.strip().split("=", 1)[-1].strip()
    return int(value, 16)


def read(path: Path) -> dict[str, Any]:
    """Return the power card: ``pi`` false off a Pi, else the raw flags and what they mean.

    ``advice`` is ``power_supply`` when the Pi saw under-voltage or throttling, ``cooling``
    when only the temperature limit was hit, else ``none``.
    """
    try:
        raw = path.read_text(encoding="ascii")
    except OSError:
        return {"pi": False}
    try:
        flags = parse(raw)
    except ValueError:
        return {"pi": True, "readable": False}
    found = [name for bit, name in FLAGS.items() if flags & (1 << bit)]
    if any(flags & (1 << b) for b in (0, 1, 2, 16, 17, 18)):
        advice = "power_supply"
    elif any(flags & (1 << b) for b in HEAT_BITS):
        advice = "cooling"
    else:
        advice = "none"
    return {
        "pi": True,
        "readable": True,
        "flags": f"0x{flags:x}",
        "found": found,
        "under_voltage_now": bool(flags & 1),
        "under_voltage_since_boot": bool(flags & (1 << 16)),
        "advice": advice,
    }
