"""The ministry's central server: ingest of site batches, device registry, dashboard, exports."""

from __future__ import annotations

from typing import Any


def create_app(config: dict[str, Any] | None = None, settings: Any = None):
    """Build the central server's Flask app (see ``sync.central.app.create_app``)."""
    from .app import create_app as factory

    return factory(config, settings)
