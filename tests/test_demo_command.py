"""``kru demo --data-dir DIR`` works as its help says: the demo lives in DIR and stays there."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from tests.livesite import KRU, free_port, wait_until_ready

ENV = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_AUTH_HASH_TIME_COST": "1"}


def run_demo(*args: str) -> int:
    """Start ``kru ... demo`` on a free port, wait until it serves, stop it; return the port."""
    port = free_port()
    proc = subprocess.Popen(
        [*KRU, *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/healthz", timeout=90, proc=proc)
    except RuntimeError as exc:
        raise AssertionError(proc.stderr.read() if proc.poll() is not None else exc) from exc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stderr.close()
    return port


def usernames(home: Path) -> list[str]:
    with closing(sqlite3.connect(home / "kru.sqlite3")) as conn:
        return sorted(r[0] for r in conn.execute("SELECT username FROM users"))


def test_demo_data_dir_after_the_command_is_used(tmp_path):
    home = tmp_path / "my-demo"
    run_demo("demo", "--data-dir", str(home))
    assert "learner5" in usernames(home)
    assert any((home / "content").rglob("*"))  # the sample pack was installed there


def test_demo_can_be_run_again_on_the_same_directory(tmp_path):
    home = tmp_path / "my-demo"
    run_demo("demo", "--data-dir", str(home))
    run_demo("demo", "--data-dir", str(home))
    assert usernames(home).count("admin") == 1


def test_demo_data_dir_before_the_command_still_works(tmp_path):
    home = tmp_path / "demo-home"
    run_demo("--data-dir", str(home), "demo")
    assert "admin" in usernames(home)
