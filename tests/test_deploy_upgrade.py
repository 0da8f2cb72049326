"""kru-upgrade for real (issue 20): a Debian bookworm root with Kru installed by install.sh from
a bundle built for this machine, then a signed newer release staged as the site stages it and
installed by deploy/raspberrypi/bin/kru-upgrade as root: side by side, switched, migrated,
checked on /healthz, and rolled back when it fails. The chroot has no systemd: a stand-in
``systemctl`` starts and stops ``kru serve`` as the kru user (the units themselves are
checked in test_deploy_install and the emulated-Pi boot test).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.livesite import free_port
from tests.test_deploy_install import bookworm_tarball, in_root

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "raspberrypi"
KRU = [sys.executable, "-m", "edge_server.cli"]

# No systemd in a chroot: kru.service is `kru serve` in the background, as kru.service runs it.
FAKE_SYSTEMCTL = r"""#!/bin/bash
cmd=$1; shift
echo "systemctl $cmd $*" >> /tmp/systemctl.log
for unit in "$@"; do
    [ "$unit" = kru.service ] || continue
    case $cmd in
    start)
        setpriv --reuid=kru --regid=kru --init-groups env KRU_CONFIG=/etc/kru/kru.toml \
            KRU_DATA_DIR=/var/lib/kru /opt/kru/venv/bin/kru serve >> /tmp/serve.log 2>&1 &
        echo $! > /tmp/kru.pid
        if [ -f /tmp/record-event-after-start ]; then
            # A phone's event reaching the new version's database after the switch.
            for _ in $(seq 60); do
                [ -f /var/lib/kru/kru.pid ] && break
                sleep 0.5
            done
            setpriv --reuid=kru --regid=kru --init-groups sqlite3 /var/lib/kru/kru.sqlite3 \
                "PRAGMA busy_timeout=30000;
                 INSERT INTO events (id, user_id, verb, object, server_ts, boot_id)
                 SELECT 'after-the-switch', id, 'experienced', 'intro/lesson',
                        '2026-12-02T10:00:00Z', 'test' FROM users WHERE username = 'learner1';
                 INSERT INTO users (uid, username, display_name, role, password_hash,
                                    created_at, updated_at)
                 SELECT 'uid-learner2', 'learner2', 'Learner Two', 'learner', password_hash,
                        created_at, updated_at FROM users WHERE username = 'learner1';
                 INSERT INTO events (id, user_id, verb, object, server_ts, boot_id)
                 SELECT 'after-the-switch-by-a-new-account', id, 'experienced', 'intro/lesson',
                        '2026-12-02T10:00:01Z', 'test' FROM users WHERE username = 'learner2';
                 INSERT INTO task_submissions (id, user_id, item, version, status, submitted_at)
                 SELECT 'submitted-after-the-switch', id, 'intro/task', 1, 'submitted',
                        '2026-12-02T10:00:02Z' FROM users WHERE username = 'learner2';"
        fi
        ;;
    stop)
        if [ -f /tmp/kru.pid ]; then
            pid=$(cat /tmp/kru.pid)
            kill "$pid" 2>/dev/null
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            rm -f /tmp/kru.pid
        fi
        ;;
    esac
done
exit 0
"""

PROBE_MIGRATION = '''"""A table the upgrade test looks for: the new version migrated."""

from edge_server.base.migrate import execute_all


def apply(db):
    execute_all(db, ["CREATE TABLE upgrade_probe (id INTEGER PRIMARY KEY)"])
'''


def run(*argv: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, **kwargs
    )


def chroot(root: Path, *command: str, env: dict[str, str] | None = None, timeout: int = 1200):
    prefix = ["env", *(f"{k}={v}" for k, v in (env or {}).items())]
    return subprocess.run(
        in_root(root, *prefix, *command, net=True),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def release_key(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("release-key")
    key = folder / "release.key"
    made = run(*KRU, "release", "keygen", "-o", key)
    assert made.returncode == 0, made.stderr
    pub = folder / "ministry.pub"
    pub.write_text(made.stdout.strip() + "\n")
    return {"key": key, "pub": pub}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, release_key) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = run(
        DEPLOY / "build-bundle.sh",
        "--target",
        "host",
        "--out",
        out,
        "--release-key",
        release_key["pub"],
        env={**os.environ, "PYTHON": sys.executable},
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip())


def derived_release(
    bundle: Path, out: Path, version: str, key: Path, patch=None
) -> tuple[Path, Path]:
    """Return (tar.gz, .sig) of ``bundle`` with Kru's wheel rebuilt as ``version`` after
    ``patch(src)``, signed with ``key`` as the offline machine signs it."""
    src = out / f"src-{version}"
    src.mkdir(parents=True)
    shutil.copy(ROOT / "README.md", src)
    text = (ROOT / "pyproject.toml").read_text()
    (src / "pyproject.toml").write_text(text.replace('version = "0.1.0"', f'version = "{version}"'))
    for pkg in ("edge_server", "content_packs", "sync"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if patch is not None:
        patch(src)
    wheels = out / f"wheel-{version}"
    made = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, src)
    assert made.returncode == 0, made.stderr
    arch = (bundle / "ARCH").read_text().strip()
    name = f"kru-bundle-{version}-{arch}"
    new = out / name
    shutil.copytree(bundle, new)
    for old in (new / "wheels").glob("kru-0.1.0-*.whl"):
        old.unlink()
    for wheel in wheels.glob("*.whl"):
        shutil.copy(wheel, new / "wheels")
    reqs = (new / "requirements.txt").read_text().replace("kru==0.1.0", f"kru=={version}")
    (new / "requirements.txt").write_text(reqs)
    (new / "VERSION").write_text(version + "\n")
    (new / "SHA256SUMS").unlink()
    sums = run(
        "sh",
        "-c",
        "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum",
        cwd=new,
    )
    (new / "SHA256SUMS").write_text(sums.stdout)
    tar = out / f"{name}.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(new, arcname=name)
    signed = run(*KRU, "release", "sign", tar, "--key", key)
    assert signed.returncode == 0, signed.stderr
    return tar, Path(f"{tar}.sig")


@pytest.fixture(scope="module")
def installed(tmp_path_factory, bundle) -> Path:
    """A tarball of a bookworm root with Kru 0.1.0 installed, a database, a learner and an event."""
    root = tmp_path_factory.mktemp("installed") / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xpf", str(bookworm_tarball())], check=True)
    shutil.copytree(bundle, root / "opt/kru-bundle")
    done = chroot(root, "/opt/kru-bundle/install.sh")
    assert done.returncode == 0, done.stdout + done.stderr
    (root / "usr/local/sbin/systemctl-stand-in").write_text(FAKE_SYSTEMCTL)
    (root / "usr/local/sbin/systemctl-stand-in").chmod(0o755)
    kru = ["setpriv", "--reuid=kru", "--regid=kru", "--init-groups", "/usr/local/bin/kru"]
    for command in (
        ["migrate"],
        ["user", "add", "learner1", "--password", "learner-one-pass", "--role", "learner"],
    ):
        made = chroot(root, *kru, *command)
        assert made.returncode == 0, made.stdout + made.stderr
    added = chroot(
        root,
        *kru[:4],
        "sqlite3",
        "/var/lib/kru/kru.sqlite3",
        "INSERT INTO events (id, user_id, verb, object, server_ts, boot_id) SELECT "
        "'before-the-upgrade', id, 'experienced', 'intro/lesson', '2026-12-01T10:00:00Z', 't' "
        "FROM users WHERE username = 'learner1'",
    )
    assert added.returncode == 0, added.stderr
    tarball = root.parent / "installed.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
    shutil.rmtree(root)
    return tarball


@pytest.fixture
def pi(installed, tmp_path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xpf", str(installed)], check=True)
    yield root
    chroot(root, "/usr/local/sbin/systemctl-stand-in", "stop", "kru.service")
    shutil.rmtree(root, ignore_errors=True)


def stage(root: Path, tar: Path, sig: Path) -> None:
    """Put the release where sync.edge.releases.stage puts it (checked there; again by root)."""
    incoming = root / "var/lib/kru/releases/incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    shutil.copy(tar, incoming / "bundle.tar.gz")
    shutil.copy(sig, incoming / "bundle.tar.gz.sig")
    chroot(root, "chown", "-R", "kru:kru", "/var/lib/kru/releases")


def upgrade(
    root: Path, port: int, health_s: int = 90, *args: str, **extra: str
) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "KRU_PORT": str(port),
        "KRU_HOST": "127.0.0.1",
        "KRU_UPGRADE_CTL": "/usr/local/sbin/systemctl-stand-in",
        "KRU_UPGRADE_HEALTH_S": str(health_s),
        **extra,
    }
    return chroot(root, "/opt/kru/bin/kru-upgrade", *args, env=env, timeout=1500)


def events(root: Path) -> list[str]:
    con = sqlite3.connect(root / "var/lib/kru/kru.sqlite3")
    try:
        return [r[0] for r in con.execute("SELECT id FROM events ORDER BY seq")]
    finally:
        con.close()


def usernames(root: Path) -> set[str]:
    con = sqlite3.connect(root / "var/lib/kru/kru.sqlite3")
    try:
        return {r[0] for r in con.execute("SELECT username FROM users")}
    finally:
        con.close()


def tables(root: Path) -> set[str]:
    con = sqlite3.connect(root / "var/lib/kru/kru.sqlite3")
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def state(root: Path) -> dict:
    return json.loads((root / "var/lib/kru/releases/state.json").read_text())


def test_a_signed_release_is_installed_beside_switched_migrated_and_healthy(
    pi, bundle, release_key, tmp_path
):
    def add_migration(src: Path) -> None:
        (src / "edge_server/learning/migrations/m0029_upgrade_probe.py").write_text(PROBE_MIGRATION)

    tar, sig = derived_release(bundle, tmp_path / "r", "0.1.1", release_key["key"], add_migration)
    stage(pi, tar, sig)
    done = upgrade(pi, free_port())
    log = done.stdout + done.stderr + (pi / "tmp/serve.log").read_text(errors="replace")
    assert done.returncode == 0, log
    assert "Kru 0.1.1 is installed and healthy" in done.stdout
    assert os.readlink(pi / "opt/kru/current") == "releases/0.1.1"
    assert os.readlink(pi / "opt/kru/previous") == "releases/0.1.0"
    assert (pi / "opt/kru/releases/0.1.0/venv/bin/kru").exists()  # kept for a rollback
    version = chroot(pi, "/opt/kru/venv/bin/kru", "--version")
    assert "0.1.1" in version.stdout
    assert "upgrade_probe" in tables(pi)  # the new version's migration ran
    assert events(pi) == ["before-the-upgrade"]
    assert state(pi)["state"] == "installed" and state(pi)["version"] == "0.1.1"
    assert list((pi / "var/lib/kru/snapshots").glob("kru-*.sqlite3"))  # the backup before
    assert not (pi / "var/lib/kru/releases/incoming/bundle.tar.gz").exists()


def test_a_release_that_fails_its_health_check_is_rolled_back_keeping_new_events(
    pi, bundle, release_key, tmp_path
):
    def break_health(src: Path) -> None:
        (src / "edge_server/learning/migrations/m0029_upgrade_probe.py").write_text(PROBE_MIGRATION)
        health = src / "edge_server/site/health.py"
        text = health.read_text()
        broken = text.replace(
            '"status": "ok" if database == "ok" else "degraded"', '"status": "degraded"'
        )
        assert broken != text
        health.write_text(broken)

    tar, sig = derived_release(bundle, tmp_path / "r", "0.1.1", release_key["key"], break_health)
    stage(pi, tar, sig)
    (pi / "tmp/record-event-after-start").write_text("yes")
    done = upgrade(pi, free_port(), health_s=25)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rolling back to 0.1.0" in done.stdout
    assert os.readlink(pi / "opt/kru/current") == "releases/0.1.0"
    assert not (pi / "opt/kru/releases/0.1.1").exists()
    version = chroot(pi, "/opt/kru/venv/bin/kru", "--version")
    assert "0.1.0" in version.stdout
    # The database is the pre-migration backup, plus the event recorded after the switch.
    assert "upgrade_probe" not in tables(pi)
    assert events(pi) == [
        "before-the-upgrade",
        "after-the-switch",
        "after-the-switch-by-a-new-account",
    ]
    assert "learner2" in usernames(pi)  # the account made after the switch came back too
    con = sqlite3.connect(pi / "var/lib/kru/kru.sqlite3")
    try:  # and every other table of user data (kru-carry-back), not only events and accounts
        assert con.execute("SELECT id FROM task_submissions").fetchall() == [
            ("submitted-after-the-switch",)
        ]
    finally:
        con.close()
    got = state(pi)
    assert got["carried_back"]["task_submissions"] == 1
    assert not [n for n in got["not_carried"] if n["why"] != "changed"], got["not_carried"]
    assert got["state"] == "failed" and got["version"] == "0.1.1"
    assert got["code"] == "health_failed"
    assert "did not answer /healthz" in got["reason"]
    assert "2 events recorded after the switch carried back" in got["reason"]
    assert list((pi / "var/lib/kru/backups").glob("failed-upgrade-0.1.1-*.sqlite3"))
    # The old version serves again (started by the rollback).
    calls = (pi / "tmp/systemctl.log").read_text().splitlines()
    assert calls[-1] == "systemctl start kru.service kru-sync.service"

    # A second case on the same Pi: a release whose new migration raises is rolled back too.
    def break_migration(src: Path) -> None:
        (src / "edge_server/learning/migrations/m0029_upgrade_probe.py").write_text(
            PROBE_MIGRATION + "    raise RuntimeError('the probe migration breaks')\n"
        )

    tar, sig = derived_release(
        bundle, tmp_path / "r2", "0.1.2", release_key["key"], break_migration
    )
    stage(pi, tar, sig)
    (pi / "tmp/record-event-after-start").unlink()
    done = upgrade(pi, free_port(), health_s=25)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rolling back to 0.1.0: the migration of 0.1.2 failed" in done.stdout
    assert os.readlink(pi / "opt/kru/current") == "releases/0.1.0"
    assert not (pi / "opt/kru/releases/0.1.2").exists()
    assert "0.1.0" in chroot(pi, "/opt/kru/venv/bin/kru", "--version").stdout
    assert "upgrade_probe" not in tables(pi)
    assert events(pi) == [
        "before-the-upgrade",
        "after-the-switch",
        "after-the-switch-by-a-new-account",
    ]
    got = state(pi)
    assert (got["state"], got["version"], got["code"]) == ("failed", "0.1.2", "migration_failed")
    assert "the probe migration breaks" in got["reason"] or "RuntimeError" in got["reason"]
    assert list((pi / "var/lib/kru/backups").glob("failed-upgrade-0.1.2-*.sqlite3"))


def break_health_and_migrate(src: Path) -> None:
    (src / "edge_server/learning/migrations/m0029_upgrade_probe.py").write_text(PROBE_MIGRATION)
    health = src / "edge_server/site/health.py"
    text = health.read_text()
    broken = text.replace(
        '"status": "ok" if database == "ok" else "degraded"', '"status": "degraded"'
    )
    assert broken != text
    health.write_text(broken)


def test_an_upgrade_the_power_cut_is_rolled_back_or_finished_at_boot(
    pi, bundle, release_key, tmp_path
):
    tar, sig = derived_release(
        bundle, tmp_path / "r", "0.1.1", release_key["key"], break_health_and_migrate
    )
    stage(pi, tar, sig)
    port = free_port()
    cut = upgrade(pi, port, 25, KRU_UPGRADE_TEST_CUT="after-switch")
    assert cut.returncode == 0, cut.stdout + cut.stderr
    # What the power cut leaves: switched, not migrated, Kru stopped, the upgrade pending.
    assert os.readlink(pi / "opt/kru/current") == "releases/0.1.1"
    pending = state(pi)
    assert pending["state"] == "pending" and pending["phase"] == "switched"
    assert pending["from"] == "0.1.0" and pending["snapshot"]
    assert "upgrade_probe" not in tables(pi)

    # The boot: kru-upgrade-resume.service, before kru.service.
    resumed = upgrade(pi, port, 25, "--resume")
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 1, log
    assert "was interrupted (switched)" in resumed.stdout
    assert "rolling back to 0.1.0" in resumed.stdout
    assert os.readlink(pi / "opt/kru/current") == "releases/0.1.0"
    assert not (pi / "opt/kru/releases/0.1.1").exists()
    assert "0.1.0" in chroot(pi, "/opt/kru/venv/bin/kru", "--version").stdout
    assert "upgrade_probe" not in tables(pi)  # the resume migrated; the rollback restored
    assert events(pi) == ["before-the-upgrade"]
    got = state(pi)
    assert got["state"] == "failed" and got["version"] == "0.1.1"
    assert got["code"] == "interrupted"
    assert got["reason"].startswith("the power was cut after the switch; Kru 0.1.1 did not")
    assert list((pi / "var/lib/kru/backups").glob("failed-upgrade-0.1.1-*.sqlite3"))
    # kru.service was neither stopped nor started by the resume (it starts after it).
    calls = (pi / "tmp/systemctl.log").read_text().splitlines()
    assert calls[-1] == "systemctl stop kru.service kru-sync.service"  # the upgrade's, before
    # A second boot has nothing to do.
    again = upgrade(pi, port, 25, "--resume")
    assert again.returncode == 0 and "no upgrade to resume" in again.stdout

    # A healthy release cut after the switch: the boot finishes the upgrade.
    def add_migration(src: Path) -> None:
        (src / "edge_server/learning/migrations/m0029_upgrade_probe.py").write_text(PROBE_MIGRATION)

    tar, sig = derived_release(bundle, tmp_path / "r2", "0.1.2", release_key["key"], add_migration)
    stage(pi, tar, sig)
    cut = upgrade(pi, port, 90, KRU_UPGRADE_TEST_CUT="after-switch")
    assert cut.returncode == 0, cut.stdout + cut.stderr
    assert state(pi)["phase"] == "switched"
    resumed = upgrade(pi, port, 90, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Kru 0.1.2 is installed and healthy" in resumed.stdout
    assert os.readlink(pi / "opt/kru/current") == "releases/0.1.2"
    assert "upgrade_probe" in tables(pi)  # migrated by the resume
    assert events(pi) == ["before-the-upgrade"]
    got = state(pi)
    assert (got["state"], got["version"], got["code"]) == ("installed", "0.1.2", "")
    calls = (pi / "tmp/systemctl.log").read_text().splitlines()
    assert calls[-1] == "systemctl stop kru.service kru-sync.service"  # kru.service starts next

    # Cut while installing beside (before the switch): the half-installed release goes, the
    # running version stays, and the state says the upgrade was interrupted.
    (pi / "opt/kru/releases/0.1.3/venv").mkdir(parents=True)
    (pi / "var/lib/kru/releases/state.json").write_text(
        json.dumps(
            {
                "state": "pending",
                "version": "0.1.3",
                "sha256": "0" * 64,
                "code": "",
                "reason": "installing beside 0.1.2",
                "from": "0.1.2",
                "snapshot": "",
                "phase": "installing",
            }
        )
    )
    resumed = upgrade(pi, port, 25, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert os.readlink(pi / "opt/kru/current") == "releases/0.1.2"
    assert not (pi / "opt/kru/releases/0.1.3").exists()
    got = state(pi)
    assert (got["state"], got["version"], got["code"]) == ("failed", "0.1.3", "interrupted")
    assert "before the switch" in got["reason"]
