"""Start-up stays light: building the site app imports none of the heavy libraries that only
some requests need (docs/performance.md, issue 9: serving within 1 s of start on a Pi)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from edge_server.site.app import create_app
create_app({"data_dir": sys.argv[1]})
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def modules_after_start(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    home = tmp_path_factory.mktemp("startup") / "home"
    result = subprocess.run(  # our own interpreter
        [sys.executable, "-c", PROBE, str(home)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize(
    "heavy",
    ["jsonschema", "requests", "markdown", "cryptography", "sqlite_utils", "sync.edge.agent"],
)
def test_building_the_app_does_not_import(modules_after_start, heavy):
    assert heavy not in modules_after_start
