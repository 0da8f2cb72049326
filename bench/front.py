"""The TLS front of a Pi (nginx as shipped, issue 23) in front of the bench's server.

A Pi with a certificate runs nginx beside waitress; the profiles count its memory with the
server's and load one page through it. The shipped config (deploy/raspberrypi/tls/
nginx-kru.conf) is used with only paths and ports changed (``tests.https_front``), with a
self-signed certificate for the site's name.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .server import free_port

NAME = "bench.kru.example.gov.kh"


class Front:
    """nginx terminating HTTPS on a free port and passing requests to ``backend_port``."""

    def __init__(self, workdir: Path, backend_port: int) -> None:
        from tests.https_front import NGINX, render_conf

        self.nginx = NGINX
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.conf, tls, self.pid_file = render_conf(workdir, self.port, backend_port)
        tls.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                f"/CN={NAME}",
                "-addext",
                f"subjectAltName=DNS:{NAME}",
                "-keyout",
                str(tls / "privkey.pem"),
                "-out",
                str(tls / "fullchain.pem"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        (tls / "server_name.conf").write_text(f"server_name {NAME};\n")
        # wrk sends no SNI to an address: the "reject other names" server moves to another
        # port so the site's server answers here (the site's server block is unchanged).
        text = self.conf.read_text()
        marker = f"listen 127.0.0.1:{self.port} ssl http2 default_server;"
        self.conf.write_text(text.replace(marker, marker.replace(str(self.port), str(free_port()))))

    def start(self) -> Front:
        subprocess.run([self.nginx, "-t", "-q", "-c", str(self.conf)], check=True, timeout=30)
        subprocess.run([self.nginx, "-c", str(self.conf)], check=True, timeout=30)
        deadline = time.monotonic() + 10
        while not self.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def pids(self) -> list[int]:
        """Return the nginx master's pid and its workers' (empty when it is not running)."""
        try:
            master = int(self.pid_file.read_text().strip())
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except (OSError, ValueError):
            return []
        return [master, *map(int, children)]

    def stop(self) -> None:
        pids = self.pids()
        subprocess.run([self.nginx, "-c", str(self.conf), "-s", "quit"], check=False, timeout=30)
        deadline = time.monotonic() + 5
        while pids and Path(f"/proc/{pids[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
