"""``python -m bench.tls_front``: the learner lesson page over HTTP and over HTTPS, and the
memory of the TLS fronts (nginx as shipped; hitch for comparison).

Builds a demo site, serves it with ``kru serve``, puts the shipped nginx config
(deploy/raspberrypi/tls/nginx-kru.conf, only paths and ports changed) in front of it with a
certificate for the site's key, signs in a class of learners, and runs the same wrk load on
the lesson page directly (HTTP) and through nginx (HTTPS, keep-alive like a phone). Prints
one JSON object; docs/performance.md ("HTTPS") keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import client
from .load import run_wrk, write_sessions
from .server import KruServer, free_port, group_memory, read_status

NAME = "bench.kru.example.gov.kh"
LESSON = "/learn/items/classroom-reading/routines-and-rules"
CONNECTIONS = 50
ENV = {
    "KRU_AUTH_HASH_MEMORY_KIB": "1024",
    "KRU_AUTH_HASH_TIME_COST": "1",
    "KRU_AUTH_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
    "KRU_AUTH_LOGIN_LIMIT": "100000 per minute",
    "KRU_LOG_LEVEL": "WARNING",
    "KRU_HTTPS_DOMAIN": "kru.example.gov.kh",
}


def _memory(pids: list[int]) -> dict[str, int]:
    return {
        "pss_bytes": sum(group_memory(p)["VmRSS"] for p in pids[:1]),
        "rss_bytes": sum(read_status(p).get("VmRSS", 0) for p in pids),
        "processes": len(pids),
    }


def _hitch_memory(work: Path, cert: Path, key: Path, backend_port: int) -> dict[str, Any]:
    """Start hitch with the same certificate; return its memory idle (it is only compared)."""
    exe = shutil.which("hitch") or "/usr/sbin/hitch"
    if not Path(exe).exists():
        return {"status": "hitch is not installed"}
    pem = work / "hitch.pem"
    pem.write_bytes(key.read_bytes() + cert.read_bytes())
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            f"--frontend=[127.0.0.1]:{port}",
            f"--backend=[127.0.0.1]:{backend_port}",
            "--workers=1",
            "--user=nobody",
            str(pem),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)  # hitch has no readiness signal; its memory is read once settled
        pids = [proc.pid]
        try:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            pids += [int(c) for c in children]
        except OSError:
            pass
        return {"status": "ok", **_memory(pids)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tls_front", description=__doc__)
    parser.add_argument("--seconds", type=float, default=15, help="length of each wrk run")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from edge_server.base import site_tls
    from edge_server.base.datahome import DataHome
    from tests.browser.harness import seed_demo
    from tests.https_front import TlsFront
    from tests.tls_helpers import issue_for_site

    os.environ.update(ENV)
    with tempfile.TemporaryDirectory(prefix="kru-bench-tls-") as tmp:
        work = Path(tmp)
        data = work / "site"
        seed_demo(data)
        home = DataHome(data).ensure()
        site_tls.install_chain(home, issue_for_site(home, NAME), NAME)
        server = KruServer(data, env=ENV)
        server.start()
        https_port = free_port()
        front = TlsFront(work / "front", data, https_port, server.port)
        # wrk sends no SNI for an address: let the site's server answer every name here by
        # moving the "reject other names" server to another port (the site's is unchanged).
        conf = front.conf.read_text()
        marker = f"listen 127.0.0.1:{https_port} ssl http2 default_server;"
        front.conf.write_text(
            conf.replace(marker, marker.replace(str(https_port), str(free_port())))
        )
        front.apply()
        try:
            sessions = []
            for i in range(1, 6):
                with client.phone() as s:
                    token = client.sign_in(s, server.url, f"learner{i}", "demo1234")
                    sessions.append((client.session_cookie(s), token))
            sessions_file = write_sessions(work / "sessions.tsv", sessions * 10)
            idle = _memory(front.pids())
            http = run_wrk(
                server.url,
                "pages",
                [str(sessions_file), LESSON],
                connections=CONNECTIONS,
                duration_s=args.seconds,
            )
            https_url = f"https://127.0.0.1:{https_port}"
            https = run_wrk(
                https_url,
                "pages",
                [str(sessions_file), LESSON],
                connections=CONNECTIONS,
                duration_s=args.seconds,
            )
            loaded = _memory(front.pids())
            cert = front.tls / "fullchain.pem"
            key = front.tls / "privkey.pem"
            hitch = _hitch_memory(work, cert, key, server.port)
        finally:
            front.stop()
            server.stop()
    result = {
        "page": LESSON,
        "connections": CONNECTIONS,
        "http": http.figures(),
        "https": https.figures(),
        "https_to_http_ratio": round(https.rps / http.rps, 2) if http.rps else None,
        "nginx_idle": idle,
        "nginx_after_load": loaded,
        "hitch_idle": hitch,
    }
    print(json.dumps(result, indent=2))
    return 0 if http.failed == 0 and https.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
