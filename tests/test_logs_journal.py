"""Under systemd the logs go to the journal only, not to a file too (issue 19, storage wear)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import logging, sys
from pathlib import Path
from edge_server.base import logs
logs.configure("INFO", Path(sys.argv[1]))
logging.getLogger("kru.test").info("a line for the journal")
"""


def run_with_stderr(tmp_path: Path, journal: str | None) -> Path:
    stderr = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    with open(stderr, "w") as fh:
        if journal == "this":
            st = os.fstat(fh.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        elif journal is not None:
            env["JOURNAL_STREAM"] = journal
        subprocess.run(
            [sys.executable, "-c", SCRIPT, str(tmp_path / "logs")],
            stderr=fh,
            env=env,
            check=True,
        )
    return stderr


def test_stderr_connected_to_the_journal_means_no_log_file(tmp_path):
    stderr = run_with_stderr(tmp_path, "this")
    assert "a line for the journal" in stderr.read_text()
    assert not (tmp_path / "logs" / "kru.log").exists()


@pytest.mark.parametrize("journal", [None, "1:2", "not a stream"])
def test_otherwise_the_log_file_is_written(tmp_path, journal):
    run_with_stderr(tmp_path, journal)
    assert "a line for the journal" in (tmp_path / "logs" / "kru.log").read_text()
