"""The TLS front as shipped (deploy/raspberrypi/tls/nginx-kru.conf) run by a test, and
kru-tls-apply with a stand-in for systemctl that drives that nginx.

Only paths and ports are changed from the shipped file, so the tests and the benchmark
exercise the configuration a Pi runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "raspberrypi"
NGINX_CONF = DEPLOY / "tls" / "nginx-kru.conf"
APPLY = DEPLOY / "bin" / "kru-tls-apply"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

_CTL = """#!{python}
# Stand-in for systemctl in tests: drives the test's nginx like kru-https.service does.
import os, signal, subprocess, sys, time
NGINX, CONF, PID = {nginx!r}, {conf!r}, {pid!r}
def running():
    # A daemon's parent may never reap it here: a zombie is not running.
    try:
        pid = int(open(PID).read().strip())
        return open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError):
        return False
args = [a for a in sys.argv[1:] if not a.startswith("--")]
action = args[0]
if action == "is-active":
    sys.exit(0 if running() else 3)
if action == "start":
    subprocess.run([NGINX, "-t", "-q", "-c", CONF], check=True)
    subprocess.run([NGINX, "-c", CONF], check=True)
elif action == "reload":
    subprocess.run([NGINX, "-t", "-q", "-c", CONF], check=True)
    subprocess.run([NGINX, "-c", CONF, "-s", "reload"], check=True)
elif action == "stop" and running():
    # As kru-https.service's ExecStop (start-stop-daemon --retry QUIT/5): by pid file.
    pid = int(open(PID).read().strip())
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        os.kill(pid, sig)
        for _ in range(100):
            if not running():
                sys.exit(0)
            time.sleep(0.05)
    sys.exit(1)
"""


def render_conf(workdir: Path, https_port: int, backend_port: int) -> tuple[Path, Path, Path]:
    """Write the shipped nginx config with test paths and ports; return (conf, tls dir, pid)."""
    tls = workdir / "etc-tls"
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pid = workdir / "nginx.pid"
    text = NGINX_CONF.read_text()
    for old, new in (
        ("/etc/kru/tls/", f"{tls}/"),
        ("listen 443 ", f"listen 127.0.0.1:{https_port} "),
        ("server 127.0.0.1:80;", f"server 127.0.0.1:{backend_port};"),
        ("/run/kru-https.pid", str(pid)),
        ("/var/log/kru/https-error.log", str(logs / "https-error.log")),
    ):
        assert old in text, old
        text = text.replace(old, new)
    conf = workdir / "nginx-kru.conf"
    # nginx writes temporary files under its prefix; give it one of its own.
    text = text.replace(
        "http {",
        f"http {{\n    client_body_temp_path {workdir}/body;\n    proxy_temp_path {workdir}/proxy;",
        1,
    )
    conf.write_text(text)
    return conf, tls, pid


class TlsFront:
    """The shipped nginx config in front of a site, switched by kru-tls-apply."""

    def __init__(self, workdir: Path, data_dir: Path, https_port: int, backend_port: int) -> None:
        self.workdir = workdir
        self.data_dir = data_dir
        self.port = https_port
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf, self.tls, self.pid = render_conf(workdir, https_port, backend_port)
        self.ctl = workdir / "systemctl"
        self.ctl.write_text(
            _CTL.format(python=sys.executable, nginx=NGINX, conf=str(self.conf), pid=str(self.pid))
        )
        self.ctl.chmod(0o755)

    def apply(self) -> subprocess.CompletedProcess:
        """Run kru-tls-apply as its systemd unit would after a new chain or on the timer."""
        env = {
            **os.environ,
            "KRU_TLS_DATA": str(self.data_dir),
            "KRU_TLS_ETC": str(self.tls),
            "KRU_TLS_CTL": str(self.ctl),
        }
        done = subprocess.run(
            ["bash", str(APPLY)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"kru-tls-apply failed: {done.stdout}{done.stderr}")
        return done

    def running(self) -> bool:
        return (
            subprocess.run([str(self.ctl), "is-active", "--quiet", "x"], check=False).returncode
            == 0
        )

    def pids(self) -> list[int]:
        """Return the nginx master's pid and its workers'."""
        master = int(self.pid.read_text().strip())
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [master, *map(int, children)]

    def stop(self) -> None:
        subprocess.run([str(self.ctl), "stop", "x"], check=False, timeout=30)
        deadline = time.monotonic() + 5
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
