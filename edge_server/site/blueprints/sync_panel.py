"""The sync panel on the site admin page, and its "sync now" button."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, redirect, session, url_for

from edge_server.base.db import db
from edge_server.web.auth import role_required
from sync.edge import advice
from sync.edge.status import status_from_db

log = logging.getLogger(__name__)

bp = Blueprint("sync", __name__, url_prefix="/admin/sync")


def panel(app_config: Any) -> dict[str, Any]:
    """Return the sync status for the admin page's panel."""
    status = status_from_db(app_config["KRU"], app_config["KRU_HOME"], db)
    budget = status["budget_bytes"]
    status["budget_used_pct"] = (
        min(100, round(100 * status["bytes_today"] / budget)) if budget else 100
    )
    status["state"] = advice.explain(status)
    # What "Sync now" answered, shown once, in the card beside its button (issue 14 item 13).
    result = session.pop(RESULT_KEY, None)
    status["result"] = (result, RESULTS[result]) if result in RESULTS else None
    return status


RESULT_KEY = "kru_sync_now"
RESULTS = {"asked": advice.ASKED, "not_running": advice.NOT_RUNNING}


@bp.post("/run")
@role_required("admin")
def run_now():
    from sync.edge.daemon import wake_daemon  # imported here: the agent pulls in requests

    woken = wake_daemon(current_app.config["KRU_HOME"])
    session[RESULT_KEY] = "asked" if woken else "not_running"
    return redirect(url_for("admin.index") + "#sync")
