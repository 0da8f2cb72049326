"""Which installed versions were made on this site, and what they changed (issue 17, item 4)."""

from __future__ import annotations

from typing import Any

from .drafts import history


def local_edits(pack_id: str, installed_version: str) -> list[dict[str, Any]]:
    """Return this site's publications behind ``installed_version`` of ``pack_id``, newest
    first (version, who, when, the item slugs added, changed and removed); empty when the
    installed version was not published here.
    """
    published = history(pack_id)
    if not any(p["version"] == installed_version for p in published):
        return []
    core = installed_version.split("+", 1)[0]
    return [p for p in published if p["version"].split("+", 1)[0] == core]
