"""The sync panel on the site admin page, and its "sync now" button."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_babel import gettext

from edge_server.base.db import db
from edge_server.web.auth import role_required
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
    return status


@bp.post("/run")
@role_required("admin")
def run_now():
    from sync.edge.daemon import wake_daemon  # imported here: the agent pulls in requests

    if wake_daemon(current_app.config["KRU_HOME"]):
        flash(gettext("The sync agent was asked to sync now."), "success")
    else:
        flash(gettext("The sync agent is not running; start kru sync daemon."), "error")
    return redirect(url_for("admin.index") + "#sync")
