"""The sync card in words: one plain sentence for the state and one next step (issue 14 item 13).

``explain(status)`` reads the dict of ``status_from_db`` and returns the state's code, its
sentence and its next step, untranslated (``N_``) with their values; the admin page
translates them (sync.po). No shell commands and no words a site admin would have to look
up: a quarantined batch is "set aside", with what that means for the learners' work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edge_server.base.errors import N_


@dataclass(frozen=True)
class Line:
    """A message to translate (``N_``-marked) and the values it is filled with."""

    text: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncState:
    code: str
    sentence: Line
    next_step: Line
    set_aside: Line | None = None  # said only when batches were set aside


def explain(status: Mapping[str, Any]) -> SyncState:
    """Return what the sync card says about ``status`` (a ``status_from_db`` dict)."""
    pending = int(status.get("pending_events") or 0)
    quarantined = int(status.get("quarantined_batches") or 0)
    set_aside = (
        Line(
            N_(
                "%(count)s batches of records were refused by the ministry's server and set "
                "aside on the Pi; nothing is lost. Give the ministry's IT team this device's "
                "name (below) so they can look at them."
            ),
            {"count": quarantined},
        )
        if quarantined
        else None
    )
    if not status.get("provisioned") or not status.get("central_url"):
        return SyncState(
            "not_provisioned",
            Line(N_("This site is not yet registered with the ministry's server.")),
            Line(
                N_(
                    "Ask the ministry's IT team for this site's provisioning file; learners' "
                    "work is kept on the Pi until then."
                )
            ),
            set_aside,
        )
    if status.get("last_error_code") == "identity_clash":
        return SyncState(
            "identity_clash",
            Line(
                N_(
                    "The ministry's server refuses this Pi: another Pi already syncs with this "
                    "site's identity. That happens when an SD card is copied, or when a backup is "
                    "restored onto a second Pi. %(count)s records wait on this Pi; nothing is lost."
                ),
                {"count": pending},
            ),
            Line(
                N_(
                    "If this Pi replaces a broken or lost one, call the ministry's IT team, give "
                    "them this device's name (below) and ask them to mark the old Pi replaced; "
                    "this Pi then syncs again by itself. If both Pis are in use, only one may "
                    "keep this identity: ask them for a new provisioning file for the other."
                )
            ),
            set_aside,
        )
    if status.get("last_error"):
        return SyncState(
            "failing",
            Line(
                N_("The last sync did not get through; %(count)s records wait on the Pi."),
                {"count": pending},
            ),
            Line(
                N_(
                    "Check that the Pi has internet (the modem card below says), then tap "
                    "Sync now. Nothing is lost: records wait on the Pi."
                )
            ),
            set_aside,
        )
    budget = int(status.get("budget_bytes") or 0)
    if pending and budget and int(status.get("bytes_today") or 0) >= budget:
        return SyncState(
            "budget_used",
            Line(
                N_("Today's data allowance is used; %(count)s records wait on the Pi."),
                {"count": pending},
            ),
            Line(N_("They are sent tomorrow by themselves. Nothing to do.")),
            set_aside,
        )
    if not status.get("last_success_at"):
        return SyncState(
            "never",
            Line(N_("This site has not synced with the ministry yet.")),
            Line(N_("When the Pi has internet, tap Sync now.")),
            set_aside,
        )
    if pending:
        return SyncState(
            "waiting",
            Line(N_("%(count)s records wait for the next sync."), {"count": pending}),
            Line(
                N_(
                    "They are sent by themselves when the Pi has internet; tap Sync now to "
                    "send them now."
                )
            ),
            set_aside,
        )
    return SyncState(
        "up_to_date",
        Line(N_("Everything is sent: the ministry has every learning record of this site.")),
        Line(N_("Nothing to do.")),
        set_aside,
    )


# What "Sync now" answered, shown in the card itself (not at the top of the page).
ASKED = Line(N_("The Pi is syncing now. Reload this page in a minute to see the result here."))
NOT_RUNNING = Line(
    N_(
        "The sync service is not running on the Pi, so it cannot sync now. Turn the Pi off "
        "and on again; if this stays, call the ministry's IT team."
    )
)
