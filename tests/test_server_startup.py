"""Start-up stays light: building the site app imports none of the heavy libraries that only
some requests need (docs/performance.md, issue 9: serving within 1 s of start on a Pi)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from edge_server.cli.serve import lean_site_process
lean_site_process()  # as kru serve does first
from edge_server.site.app import create_app
create_app({"data_dir": sys.argv[1]})
print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))
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
    [
        "jsonschema",
        "requests",
        "markdown",
        "cryptography",
        "sqlite_utils",
        "sync.edge.agent",
        # issue 22: QR codes, file sniffing and PostgreSQL's driver (libpq) cost every server
        # process memory that only a few requests, or none, need
        "segno",
        "filetype",
        "psycopg2",
    ],
)
def test_building_the_app_does_not_import(modules_after_start, heavy):
    assert heavy not in modules_after_start
