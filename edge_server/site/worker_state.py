"""State that several server processes (``kru serve --workers N``) must share.

Each worker is its own Python process, so anything kept in a Python dict is seen by the
worker that wrote it only. A phone's captive-portal probe may reach another worker than the
one where the learner signed in: the list of signed-in addresses is therefore kept as
marker files in the data home, read by every worker. (The sign-in rate limiter stays in
memory per worker: the effective limit is the setting times the number of workers.)
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .blueprints.portal import ACCEPT_SECONDS, MAX_CLIENTS

log = logging.getLogger(__name__)


class SharedPortalClients:
    """Addresses that signed in recently, seen by every worker (same API as PortalClients)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _marker(self, address: str) -> Path:
        return self.folder / address.encode().hex()

    def accept(self, address: str) -> None:
        """Remember that ``address`` signed in now."""
        try:
            self._marker(address).touch()
            if sum(1 for _ in os.scandir(self.folder)) > MAX_CLIENTS:
                self._forget_expired()
        except OSError:
            log.warning("cannot record a signed-in address in %s", self.folder, exc_info=True)

    def accepted(self, address: str) -> bool:
        """Return whether ``address`` signed in within the hotspot's lease time."""
        try:
            signed_in = self._marker(address).stat().st_mtime
        except OSError:
            return False
        return signed_in + ACCEPT_SECONDS > time.time()

    def _forget_expired(self) -> None:
        oldest = time.time() - ACCEPT_SECONDS
        for entry in os.scandir(self.folder):
            try:
                if entry.stat().st_mtime < oldest:
                    os.unlink(entry.path)
            except OSError:
                pass


def share_between_workers(app, home_tmp: Path) -> None:  # a Flask app
    """Replace the app's per-process state with state every worker shares."""
    if "kru_portal" in app.extensions:
        app.extensions["kru_portal"] = SharedPortalClients(home_tmp / "portal-clients")
