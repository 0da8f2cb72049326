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


# Templates every learner page uses: compiled in the parent before the fork (issue 22).
LEARNER_TEMPLATES = (
    "base.html",
    "error.html",
    "login.html",
    "layout/_head_links.html",
    "layout/_top.html",
    "learn/home.html",
    "learn/course.html",
    "learn/item.html",
    "learn/_macros.html",
    "learn/_course_items.html",
    "learn/_offline.html",
    "learn/_keep.html",
    "cpd/_upcoming.html",
    "cpd/_new_replies.html",
)


def prepare_before_fork(app) -> None:  # a Flask app
    """Build in the parent what every worker would otherwise build for itself on its first
    pages: the compiled learner templates, the Khmer catalog, the table of file types, and
    what a first request builds (the URL map's matcher, the sign-in page's layout parts),
    by answering one sign-in page (in the site's language), and what ``/healthz`` reads
    once per process (Kru's version from its package metadata, the list of migrations),
    by answering it: the first request a server answers, from the readiness check.

    Made once before the fork, they stay shared between the workers (copy-on-write);
    made in each worker, each kept its own copy (issue 22). The caller closes the
    database connection the request opened before forking.
    """
    import mimetypes

    from ..web.i18n import LANGUAGES, load_catalog

    for language in LANGUAGES:
        if language != "en":
            load_catalog(language)
    for name in LEARNER_TEMPLATES:
        app.jinja_env.get_template(name)
    mimetypes.init()
    client = app.test_client()
    client.get("/login")
    client.get("/healthz")
