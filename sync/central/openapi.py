"""The OpenAPI 3.1 description of the central JSON API, served at ``/api/v1/openapi.json``.

The document is ``openapi.json`` beside this module (docs/central-openapi.json links to it);
a test checks that it describes every JSON route of the app and nothing more.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify

DOCUMENT = Path(__file__).resolve().parent / "openapi.json"

bp = Blueprint("central_openapi", __name__)


@cache
def document() -> dict[str, Any]:
    """Return the OpenAPI document (read once per process)."""
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@bp.get("/api/v1/openapi.json")
def openapi_json():
    return jsonify(document())
