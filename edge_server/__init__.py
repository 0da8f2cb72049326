"""Kru's site server. ``create_app`` builds it; importing this package does nothing else."""

from __future__ import annotations

from typing import Any


def create_app(config: dict[str, Any] | None = None, **kwargs: Any):
    """Build the site server Flask app (see ``edge_server.site.app.create_app``)."""
    from .site.app import create_app as _create_app

    return _create_app(config, **kwargs)
