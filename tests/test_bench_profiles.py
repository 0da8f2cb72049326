"""``python -m bench --profile``: the server as on a Pi 4 or a Pi 3B+ (bench/profiles.py).

No test here asserts a timing (docs/performance.md keeps the figures); they check that a
profile gives the server Kru's own settings for the board, pins it to its core, caps it
with a cgroup (or says which stand-in it used), counts the TLS front, and reports per
profile.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import profiles, report
from bench.profiles import PROFILES, Confinement, server_env, split_cpus
from bench.scenarios import SCENARIOS
from edge_server.base.server import auto_workers

ROOT = Path(__file__).resolve().parent.parent


def test_pi_profiles_give_the_server_krus_own_choice_for_the_board() -> None:
    assert server_env(PROFILES["pi4"]) == {"KRU_WORKERS": str(auto_workers(4, 4096))}
    assert server_env(PROFILES["pi3"]) == {"KRU_WORKERS": str(auto_workers(4, 1024))}
    assert server_env(PROFILES["pi3"]) == {"KRU_WORKERS": "1"}  # under 1.5 GB: one process
    assert server_env(PROFILES["default"]) == {}  # this machine's own choice


def test_the_server_gets_one_core_and_the_load_the_others() -> None:
    assert split_cpus({0, 1}) == ({0}, {1})
    assert split_cpus({2, 5, 7}) == ({2}, {5, 7})
    with pytest.raises(RuntimeError, match="needs 2"):
        split_cpus({0})


def test_pi_profiles_have_the_issues_targets() -> None:
    by_name = {s.name: s for s in SCENARIOS}
    pi4 = {t.figure: (t.op, t.value) for t in by_name["lesson_page"].targets_for("pi4")}
    pi3 = {t.figure: (t.op, t.value) for t in by_name["lesson_page"].targets_for("pi3")}
    default = {t.figure: (t.op, t.value) for t in by_name["lesson_page"].targets_for("default")}
    assert pi4 == {"requests_per_s": (">=", 500), "p99_ms": ("<=", 300)}
    assert pi3 == {"requests_per_s": (">=", 200), "p99_ms": ("<=", 600)}
    assert default == {"requests_per_s": (">=", 400), "p99_ms": ("<=", 300)}
    shutdown = {t.figure: t.value for t in by_name["shutdown"].targets_for("pi3") if t.op}
    assert shutdown["oom_kills"] == 0
    ratio = {t.figure: t.value for t in by_name["static_file"].targets_for("pi4") if t.op}
    assert ratio == {"page_to_static": 0.5}


def test_every_profile_scenario_exists() -> None:
    names = {s.name for s in SCENARIOS}
    for profile in PROFILES.values():
        assert set(profile.scenarios or ()) <= names


def test_each_profile_has_its_own_table_in_the_docs(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    pi4_start, pi4_end = report.markers("pi4")
    doc.write_text(
        f"{report.TABLE_START}\nold\n{report.TABLE_END}\n{pi4_start}\nold pi4\n{pi4_end}\n"
    )
    assert report.update_docs(doc, "| new |", "Measured.", "pi4")
    text = doc.read_text()
    assert f"{report.TABLE_START}\nold\n{report.TABLE_END}" in text  # the default's untouched
    assert f"{pi4_start}\nMeasured.\n\n| new |\n{pi4_end}" in text
    assert not report.update_docs(doc, "| new |", "Measured.", "pi3")  # no pi3 table there


def test_the_real_docs_have_a_table_per_profile() -> None:
    text = (ROOT / "docs" / "performance.md").read_text()
    for name in PROFILES:
        start, end = report.markers(name)
        assert start in text and end in text


def test_profile_rows_name_the_profile_in_their_command() -> None:
    scenario = next(s for s in SCENARIOS if s.name == "lesson_page")
    rows = report.row_for(scenario, {"status": "ok", "figures": {"requests_per_s": 520.0}}, "pi4")
    assert "`python -m bench --profile pi4 --only lesson_page`" in report.markdown_table(
        rows, "pi4"
    )


def test_unknown_profile_is_refused_with_the_known_names() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--profile", "pi5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "pi4" in proc.stderr and "pi3" in proc.stderr


def _cgroups_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cgroup").read_text()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two cores")
def test_pi3_confinement_pins_and_caps_a_real_process() -> None:
    affinity = os.sched_getaffinity(0)
    confinement = Confinement(PROFILES["pi3"])
    try:
        confinement.setup()
        assert os.sched_getaffinity(0) == confinement.load_cpus  # the load's side
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)"], preexec_fn=confinement.enter
        )
        try:
            assert os.sched_getaffinity(child.pid) == confinement.server_cpus
            if confinement.groups:  # cgroups could be written: the child is in each
                for group in confinement.groups:
                    assert str(child.pid) in (group / "cgroup.procs").read_text().split()
                assert confinement.oom_kills() == 0
                limits = " ".join(confinement.method)
                assert "CPU quota 0.5 core" in limits and "memory limit 700 MB" in limits
            else:  # the documented stand-in, said in the results
                assert confinement.hog is not None and confinement.hog.poll() is None
                assert any("no cgroups" in m for m in confinement.method)
                assert confinement.oom_kills(800 * 1024 * 1024) == 1
        finally:
            child.kill()
            child.wait()
        time.sleep(0.1)  # the kernel lets go of an empty group a moment after its last exit
    finally:
        confinement.close()
        os.sched_setaffinity(0, affinity)
    assert all(not group.exists() for group in confinement.groups)


def test_confinement_without_writable_cgroups_uses_the_stand_in(monkeypatch) -> None:
    monkeypatch.setattr(profiles, "_own_cgroup", lambda controller: None)
    affinity = os.sched_getaffinity(0)
    confinement = Confinement(PROFILES["pi3"])
    try:
        confinement.setup()
        assert confinement.groups == []
        assert any("no cgroups" in m for m in confinement.method)
        assert any("not enforced" in m for m in confinement.method)
        assert confinement.oom_kills(100 * 1024 * 1024) == 0
        assert confinement.oom_kills(701 * 1024 * 1024) == 1
    finally:
        confinement.close()
        os.sched_setaffinity(0, affinity)
    assert confinement.hog is None


@pytest.mark.slow
def test_quick_pi3_run_serves_from_one_capped_process_behind_the_tls_front(tmp_path) -> None:
    if not shutil.which("wrk"):
        pytest.fail("wrk is not installed: apt-get install wrk (./dev.sh test does)")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--profile",
            "pi3",
            "--no-docs",
            "--out",
            str(tmp_path),
            "--only",
            "static_file",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = tmp_path.glob("*-pi3.json")
    results = json.loads(path.read_text())
    assert results["profile"]["name"] == "pi3"
    assert results["profile"]["server_env"] == {"KRU_WORKERS": "1"}
    scenarios = results["scenarios"]
    assert set(scenarios) == {"startup", "login_storm", "static_file", "shutdown"}
    assert scenarios["startup"]["figures"]["server_processes"] == 1
    assert scenarios["startup"]["figures"]["idle_front_mb"] > 0  # nginx counted
    assert scenarios["shutdown"]["figures"]["oom_kills"] == 0
    assert scenarios["login_storm"]["figures"]["succeeded"] == 50
    assert scenarios["static_file"]["figures"]["failed"] == 0


def test_the_bench_serves_kru_from_byte_compiled_modules_as_a_pi_does(tmp_path: Path) -> None:
    """install.sh compiles the Pi's virtualenv; the bench compiles Kru's packages the same way,
    for the services (-OO, PYTHONOPTIMIZE=2 in kru.service) and for the kru command.

    Then a server started with PYTHONDONTWRITEBYTECODE=1 (this machine's environment) reads
    ``.pyc`` files instead of compiling every module at every start.
    """
    from bench.server import SERVICE_ENV, byte_compile

    package = tmp_path / "edge_server"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pages.py").write_text('"""Pages."""\nANSWER = 42\n')
    assert byte_compile(tmp_path, libraries=False)
    assert sorted(p.name for p in (package / "__pycache__").iterdir()) == sorted(
        f"{name}.{sys.implementation.cache_tag}{level}.pyc"
        for name in ("__init__", "pages")
        for level in ("", ".opt-2")
    )
    compiled = (package / "__pycache__").stat().st_mtime_ns
    probe = "import edge_server.pages as p; print(p.ANSWER, p.__doc__)"
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONOPTIMIZE"}
    for service, shown_doc in ((SERVICE_ENV, "None"), ({}, "Pages.")):
        env = {**plain, "PYTHONDONTWRITEBYTECODE": "1", **service}
        shown = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert shown.stdout.split() == ["42", *shown_doc.split()]
    assert (package / "__pycache__").stat().st_mtime_ns == compiled  # read, nothing rewritten
    (package / "broken.py").write_text("def (:\n")
    assert not byte_compile(tmp_path, libraries=False)  # a module that does not compile is reported


def test_the_bench_compiles_the_pi_bundles_libraries_for_the_service() -> None:
    from bench.server import runtime_library_sources

    names = {(path.parent.name, path.name) for path in runtime_library_sources()}
    assert {("flask", "app.py"), ("waitress", "server.py"), ("jinja2", "compiler.py")} <= names
    assert not any(path.parent.name == "pytest" for path in runtime_library_sources())
