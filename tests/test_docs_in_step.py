"""The generated reference pages match the code: every command and setting is documented."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _gen():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["docs/cli.md", "docs/configuration.md"])
def test_generated_page_is_current(page):
    expected = _gen().PAGES[page]()
    assert (ROOT / page).read_text(encoding="utf-8") == expected, (
        f"{page} is stale: run .venv/bin/python tools/gen_docs.py"
    )


def test_every_command_has_help():
    gen = _gen()
    from edge_server.cli.main import get_cli

    for path, cmd, _ctx in gen._walk(get_cli(), ["kru"]):
        assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"
