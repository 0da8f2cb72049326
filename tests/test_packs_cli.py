"""``kru pack ...`` end to end, and an install killed with SIGKILL midway."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.packs_factory import build_pack, write_source
from tests.packs_helpers import rewrite

SAMPLE = Path(__file__).resolve().parent.parent / "content_packs/examples/classroom-reading"


def test_build_the_sample_pack(runner, tmp_path):
    out = tmp_path / "sample.zip"
    result = runner("pack", "build", str(SAMPLE), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "classroom-reading 1.0.0" in result.stdout
    assert out.is_file()


def test_build_twice_gives_the_same_zip(runner, tmp_path):
    runner("pack", "build", str(SAMPLE), "-o", str(tmp_path / "a.zip"))
    runner("pack", "build", str(SAMPLE), "-o", str(tmp_path / "b.zip"))
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_build_reports_a_missing_item_file(runner, tmp_path):
    src = write_source(tmp_path / "src")
    (src / "lessons" / "lesson-1.md").unlink()
    result = runner("pack", "build", str(src), "-o", str(tmp_path / "x.zip"))
    assert result.exit_code == 1
    assert "lessons/lesson-1.md" in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_build_reports_yaml_style_front_matter(runner, tmp_path):
    src = write_source(tmp_path / "src")
    (src / "lessons" / "lesson-1.md").write_text("---\ntitle: x\n---\n# Hi\n")
    result = runner("pack", "build", str(src), "-o", str(tmp_path / "x.zip"))
    assert result.exit_code == 1
    assert "+++" in result.stderr


def test_validate_a_good_pack_exits_0(runner, tmp_path):
    result = runner("pack", "validate", str(build_pack(tmp_path)))
    assert result.exit_code == 0
    assert "valid (demo-pack 1.0.0, unsigned)" in result.stdout


def test_validate_prints_one_line_per_problem_and_exits_1(runner, tmp_path):
    bad = rewrite(
        build_pack(tmp_path),
        tmp_path / "bad.zip",
        {"lessons/lesson-1.md": None},
        add=[("notes.txt", b"x")],
    )
    result = runner("pack", "validate", str(bad))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any("lessons/lesson-1.md" in line and "not in the zip" in line for line in lines)
    assert any("notes.txt" in line and "not listed" in line for line in lines)


def test_keygen_sign_and_install_a_signed_pack(runner, tmp_path, data_dir):
    key = tmp_path / "k.pem"
    public = runner("pack", "keygen", "-o", str(key)).stdout.strip()
    zip_path = build_pack(tmp_path)
    assert runner("pack", "sign", str(zip_path), "--key", str(key)).exit_code == 0
    config = tmp_path / "kru.toml"
    config.write_text(f'[packs]\nallow_unsigned = false\ntrusted_keys = ["{public}"]\n')

    result = runner("--config", str(config), "pack", "install", str(zip_path))

    assert result.exit_code == 0, result.output
    assert "installed demo-pack 1.0.0 (signed)" in result.stdout


def test_install_list_and_remove(runner, tmp_path):
    zip_path = build_pack(tmp_path)
    assert runner("pack", "install", str(zip_path)).exit_code == 0
    listed = runner("pack", "list").stdout
    assert listed.startswith("demo-pack\t1.0.0\tunsigned\t2 items")
    assert runner("pack", "remove", "demo-pack").stdout.strip() == "removed demo-pack 1.0.0"
    assert runner("pack", "list").stdout == ""


def test_install_a_bad_pack_prints_one_error_line(runner, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK not really")
    result = runner("pack", "install", str(bad))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: bad.zip: is not a zip file; a pack is a .zip"
    ]


def test_install_older_version_needs_force(runner, tmp_path):
    runner("pack", "install", str(build_pack(tmp_path, version="2.0.0")))
    old = build_pack(tmp_path, version="1.0.0")
    refused = runner("pack", "install", str(old))
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert runner("pack", "install", "--force", str(old)).exit_code == 0


def test_remove_unknown_pack_exits_1(runner):
    result = runner("pack", "remove", "nothing-here")
    assert result.exit_code == 1
    assert "No pack nothing-here is installed" in result.stderr


def _kru(data_dir: Path, *args: str) -> list[str]:
    code = "from edge_server.cli.main import main; main()"
    return [sys.executable, "-c", code, "--data-dir", str(data_dir), *args]


def _store_files(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "content").rglob("*") if p.is_file()}


def _db_rows(data_dir: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(data_dir / "kru.sqlite3")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_install_killed_midway_leaves_nothing_half_installed(tmp_path, data_dir):
    files = {f"media/part-{i:04d}.bin": os.urandom(16 * 1024) for i in range(1500)}
    big = build_pack(tmp_path, pack_id="big-pack", extra_files=files)
    small = build_pack(tmp_path, pack_id="small-pack")
    subprocess.run(_kru(data_dir, "migrate"), check=True, capture_output=True, timeout=120)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    proc = subprocess.Popen(
        _kru(data_dir, "pack", "install", str(big)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_store_files(data_dir)) < 50 and time.monotonic() < deadline:
            assert proc.poll() is None, "the install finished before it could be killed"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    orphans = _store_files(data_dir)
    assert len(orphans) >= 50
    assert _db_rows(data_dir, "SELECT COUNT(*) FROM packs") == [(0,)]
    assert _db_rows(data_dir, "SELECT COUNT(*) FROM items") == [(0,)]

    subprocess.run(_kru(data_dir, "pack", "install", str(small)), check=True, env=env, timeout=120)

    referenced = {r[0] for r in _db_rows(data_dir, "SELECT sha256 FROM pack_files")}
    assert _store_files(data_dir) == referenced  # the killed install's files are gone
    assert not list((data_dir / "tmp").glob("store-*"))

    subprocess.run(_kru(data_dir, "pack", "install", str(big)), check=True, env=env, timeout=300)
    packs = _db_rows(data_dir, "SELECT pack_id FROM packs ORDER BY pack_id")
    assert packs == [("big-pack",), ("small-pack",)]
    referenced = {r[0] for r in _db_rows(data_dir, "SELECT sha256 FROM pack_files")}
    assert _store_files(data_dir) == referenced
