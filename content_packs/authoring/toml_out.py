"""Write the small TOML a pack source folder needs (``tomllib`` only reads).

Values are strings, booleans, numbers, lists and tables; ``None`` has no TOML form and
is left out by the caller. Strings are written as JSON strings, which are valid TOML
basic strings once DEL is escaped too.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key(name: str) -> str:
    return name if _BARE.match(name) else value(name)


def value(obj: Any) -> str:
    """Return ``obj`` as an inline TOML value.

    Raises:
        TypeError: ``obj`` (or something inside it) has no TOML form.
    """
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise TypeError("TOML has no form for NaN or infinity here")
        return repr(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(value(v) for v in obj) + "]"
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {value(v)}" for k, v in obj.items()) + " }"
    raise TypeError(f"TOML has no form for {type(obj).__name__}")


def table(pairs: dict[str, Any]) -> str:
    """Return ``key = value`` lines, one per pair (lists of tables one element a line)."""
    lines = []
    for name, obj in pairs.items():
        if isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
            inner = "".join(f"  {value(v)},\n" for v in obj)
            lines.append(f"{key(name)} = [\n{inner}]")
        else:
            lines.append(f"{key(name)} = {value(obj)}")
    return "\n".join(lines) + "\n"
