"""Ralph (PyPI ``ralph-malph``) in a virtualenv of its own: xAPI validation and a real LRS.

Ralph pins its own dependencies (pydantic, fastapi...), so it never joins Kru's lock: the
first test that needs it makes ``.venv-ralph`` in the worktree with ``python -m venv`` and
pip installs the pinned version there, once (a stamp file names what is installed; a file
lock keeps two pytest processes from installing at once).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.livesite import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-ralph"
# ralph.api imports requests (OIDC auth) without declaring it: install it alongside.
SPEC = ("ralph-malph[cli,lrs]==5.1.0", "requests>=2.31,<3")
VALIDATOR = Path(__file__).resolve().parent / "xapi_validator.py"
SHIM = Path(__file__).resolve().parent / "ralph_shim"


def ralph_venv() -> Path:
    """Return the Python of the Ralph virtualenv, making it first if needed."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".kru-installed"
    with open(ROOT / ".venv-ralph.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == " ".join(SPEC) and python.exists():
            return python
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *SPEC],
            check=True,
            timeout=1200,
        )
        stamp.write_text(" ".join(SPEC))
    return python


def validate(python: Path, statements: list[dict]) -> list[list[str]]:
    """Return Ralph's validation errors of each statement (an empty list: valid)."""
    done = subprocess.run(
        [str(python), str(VALIDATOR)],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


# Ralph's basic auth keeps bcrypt hashes; bcrypt is in Ralph's venv, not Kru's.
_HASH = "import bcrypt, sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(4)).decode())"


class RalphLrs:
    """``ralph runserver -b fs`` on a loopback port with one basic-auth account."""

    def __init__(self, python: Path, home: Path, username: str, password: str) -> None:
        self.python = python
        self.home = home
        self.username = username
        self.password = password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        home.mkdir(parents=True, exist_ok=True)
        self.auth_file = home / "auth.json"
        hashed = subprocess.run(
            [str(python), "-c", _HASH, password],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        self.auth_file.write_text(
            json.dumps(
                [
                    {
                        "agent": {"mbox": "mailto:kru@example.org"},
                        "scopes": ["all"],
                        "hash": hashed,
                        "username": username,
                    }
                ]
            )
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update(
            {
                "RALPH_APP_DIR": str(self.home / "app"),
                "RALPH_AUTH_FILE": str(self.auth_file),
                "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(self.home / "data"),
                "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.home / "data"),
                "RALPH_RUNSERVER_BACKEND": "fs",
                "RALPH_RUNSERVER_HOST": "127.0.0.1",
                "RALPH_RUNSERVER_PORT": str(self.port),
                "RALPH_RUNSERVER_AUTH_BACKENDS": "basic",
                # sitecustomize.py there: the fs backend appends (see that file).
                "PYTHONPATH": str(SHIM),
            }
        )
        return env

    def start(self) -> None:
        ralph = self.python.parent / "ralph"
        with open(self.home / "ralph.log", "ab") as log:
            self.proc = subprocess.Popen(  # our own venv's ralph
                [
                    str(ralph),
                    "runserver",
                    "-b",
                    "fs",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/__heartbeat__", timeout=2).status_code == 200:
                    return
            if self.proc.poll() is not None:
                raise RuntimeError((self.home / "ralph.log").read_text()[-3000:])
            time.sleep(0.2)
        raise RuntimeError("ralph did not start: " + (self.home / "ralph.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"}

    def statements(self) -> list[dict]:
        """Return every statement the LRS holds (following ``more``)."""
        found: list[dict] = []
        url = f"{self.url}/xAPI/statements/?limit=500"
        while url:
            page = requests.get(url, headers=self.headers(), timeout=30)
            page.raise_for_status()
            body = page.json()
            found += body["statements"]
            more = body.get("more") or ""
            url = f"{self.url}{more}" if more else ""
        return found


@contextlib.contextmanager
def running_lrs(python: Path, home: Path) -> Iterator[RalphLrs]:
    lrs = RalphLrs(python, home, "kru-central", "lrs-secret-2026")
    lrs.start()
    try:
        yield lrs
    finally:
        lrs.stop()
