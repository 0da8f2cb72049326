"""Browser fixtures: one Chromium per session, one demo site per module, one phone per test.

A module that needs no course content sets ``DEMO_CONTENT = False`` to seed accounts only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.harness import launch_chromium, new_phone_context, start_demo_site
from tests.browser.https_world import https_world as make_https_world
from tests.livesite import LiveSite


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A ``kru serve`` subprocess on a free port with the demo accounts (and sample pack)."""
    content = getattr(request.module, "DEMO_CONTENT", True)
    live = start_demo_site(tmp_path_factory.mktemp("browser-site"), content=content)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def https_world(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[dict]:
    """Pebble, BIND, central and a demo site behind nginx with a certificate, and a Chromium
    trusting Pebble's root (tests/browser/https_world.py); one per module that asks."""
    yield from make_https_world(tmp_path_factory.mktemp("https-world"), browser)


@pytest.fixture
def context(browser: Browser, site: LiveSite) -> Iterator[Any]:
    ctx = new_phone_context(browser, site.url)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Page:
    """A 360x740 phone tab on the module's site; ``page.goto("/login")`` is relative to it."""
    return context.new_page()


@pytest.fixture
def site_db(site: LiveSite) -> Callable[..., list[tuple]]:
    """Run a read-only query on the live site's SQLite database; returns all rows."""

    def query(sql: str, *params: Any) -> list[tuple]:
        uri = f"file:{site.data_dir / 'kru.sqlite3'}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
            return conn.execute(sql, params).fetchall()

    return query
