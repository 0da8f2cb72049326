"""A pack edited on this site meets a version central assigns: the admin chooses (issue 17, 4).

A version published by the site's editor carries build metadata (``1.2.0+tec-battambang.3``).
When central assigns other content for such a pack, the agent does not install it by itself:
the pack waits ("held") until an admin chooses, on the **Make a course** page, with
``POST /api/v1/authoring/versions/<pack>`` or with ``kru pack choose``, either the official
version (installed at the next sync; the local edits stay listed in the pack's history so
they can be made again on a draft of it) or the local version (kept; central's version is
not fetched again until central assigns yet another).

The choices live in ``downloads/choices.json``, written only by the admin's side and read by
the agent, so the agent's own state file has one writer.
"""

from __future__ import annotations

import json
from typing import Any

from content_packs.authoring.local_versions import local_edits
from edge_server.base.datahome import DataHome, write_file_atomically
from edge_server.base.db import utcnow
from edge_server.base.errors import N_, NotFound, ValidationError

CHOICES_FILE = "choices.json"
OFFICIAL = "official"
LOCAL = "local"
HELD_REASON = "waiting for the admin: this site edited the pack (%s)"
KEPT_REASON = "the admin kept this site's version %s"


class NothingToChoose(NotFound):
    code = "nothing_to_choose"


def _path(home: DataHome):
    return home.root / "downloads" / CHOICES_FILE


def read_choices(home: DataHome) -> dict[str, dict[str, Any]]:
    """Return ``{pack id: {"sha256", "choice", "by", "at"}}``."""
    try:
        data = json.loads(_path(home).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


HELD = "held"


def decision(home: DataHome, pack_id: str, installed_version: str, sha256: str) -> str | None:
    """Return what to do with central's content ``sha256`` of a pack installed here.

    ``HELD``: the installed version was made on this site and no admin chose yet;
    ``LOCAL``: an admin chose to keep the local version; ``OFFICIAL``: an admin chose
    central's (install it even when it ranks the same, e.g. ``1.2.0``); ``None``: an
    ordinary pack, installed as usual.
    """
    choice = read_choices(home).get(pack_id)
    if choice is not None and choice.get("sha256") == sha256:
        return str(choice.get("choice"))
    return HELD if local_edits(pack_id, installed_version) else None


def waiting(home: DataHome, packs_state: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the held packs, each with its versions and what the local versions changed."""
    from content_packs.models import Pack

    out = []
    choices = read_choices(home)
    for pack_id, entry in sorted(packs_state.items()):
        if not entry.get("held"):
            continue
        row = Pack.get_or_none(Pack.pack_id == pack_id)
        if row is None:
            continue
        chosen = choices.get(pack_id, {})
        same = chosen.get("sha256") == entry.get("sha256")
        out.append(
            {
                "pack_id": pack_id,
                "title": json.loads(row.manifest)["title"],
                "local_version": row.version,
                "official_version": entry.get("version", ""),
                "sha256": entry.get("sha256", ""),
                "edits": local_edits(pack_id, row.version),
                "choice": chosen.get("choice") if same else None,
            }
        )
    return out


def choose(
    home: DataHome, packs_state: dict[str, Any], pack_id: str, choice: str, user: str
) -> None:
    """Record the admin's choice for the official content central assigned for ``pack_id``.

    Raises:
        ValidationError: ``choice`` is neither ``official`` nor ``local``.
        NothingToChoose: no version of ``pack_id`` is waiting for a choice.
    """
    if choice not in (OFFICIAL, LOCAL):
        raise ValidationError(
            N_("Choose %(official)s or %(local)s"),
            official=OFFICIAL,
            local=LOCAL,
            code="bad_choice",
        )
    entry = packs_state.get(pack_id) or {}
    if not entry.get("held") or not entry.get("sha256"):
        raise NothingToChoose(
            N_("No version of %(pack)s from central is waiting for a choice"), pack=pack_id
        )
    choices = read_choices(home)
    choices[pack_id] = {"sha256": entry["sha256"], "choice": choice, "by": user, "at": utcnow()}
    _path(home).parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(_path(home), json.dumps(choices, indent=1), 0o644)
