"""The HTTPS panel on the site admin page: the certificate's state and what central said."""

from __future__ import annotations

from typing import Any

from edge_server.base import site_tls
from edge_server.base.errors import KruError

from .assigned import https_name, read_central_state
from .identity import load_identity

WARN_STATES = (site_tls.RENEWAL_DUE, site_tls.NEAR_EXPIRY_STATE, site_tls.LAPSED)


def panel(app_config: Any) -> dict[str, Any]:
    """Return the panel's data (``edge_server.site.blueprints.admin.PANELS``)."""
    settings, home = app_config["KRU"], app_config["KRU_HOME"]
    central = read_central_state(home)
    problem = central.get("problem") or ""
    try:
        name = https_name(settings, home, load_identity(home).name)
    except KruError as exc:
        name, problem = "", exc.message
    current = site_tls.status(home, name)
    return {
        "state": current.state,
        "name": name,
        "serving": current.serving,
        "warn": current.state in WARN_STATES,
        "not_after": current.not_after.strftime("%Y-%m-%d") if current.not_after else "",
        "days_left": current.days_left,
        "renew_after": current.renew_after.strftime("%Y-%m-%d") if current.renew_after else "",
        "central_state": central.get("state", ""),
        "central_error": central.get("last_error") or "",
        "problem": problem,
    }
