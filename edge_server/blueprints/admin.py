"""Site admin pages: status, accounts, cohorts, class-list import."""

from __future__ import annotations

import importlib
from typing import Any

from flask import Blueprint, current_app, render_template

from ..auth import role_required
from ..health import health

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Status panels other parts add to the site page: (template, "module:function"), where
# function(app_config) returns the dict the template sees as ``panel``.
PANELS: list[tuple[str, str]] = []


def _panels() -> list[tuple[str, Any]]:
    shown = []
    for template, spec in PANELS:
        module, _, attr = spec.partition(":")
        shown.append((template, getattr(importlib.import_module(module), attr)(current_app.config)))
    return shown


@bp.get("/")
@role_required("admin")
def index():  # noqa: ANN201
    return render_template(
        "admin/index.html", health=health(current_app.config["KRU_HOME"]), panels=_panels()
    )
