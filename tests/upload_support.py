"""A signed-in ``requests`` client for a live site, a minimal tus 1.0 client, and big packs.

The tus client here follows docs/api.md ("Resumable uploads") step by step, so the tests
exercise the protocol as any other client would; the upload page uses tus-js-client.
"""

from __future__ import annotations

import base64
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.packs_factory import build_pack, media

TIMEOUT = (5, 120)
TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024


def random_pack(tmp_path: Path, megabytes: float, pack_id: str = "big-pack") -> Path:
    """Build a real pack holding one PDF item of ``megabytes`` MB of random bytes."""
    data = b"%PDF-1.4\n" + os.urandom(int(megabytes * 1_000_000))
    return build_pack(tmp_path, pack_id=pack_id, items=[media("pdf", slug="handout", data=data)])


@dataclass
class Client:
    """A ``requests`` session signed in to ``url``, with the session's CSRF token."""

    url: str
    http: requests.Session
    token: str

    @classmethod
    def sign_in(cls, url: str, username: str, password: str) -> Client:
        http = requests.Session()
        token = http.get(f"{url}/api/v1/session", timeout=TIMEOUT).json()["csrf_token"]
        response = http.post(
            f"{url}/api/v1/session",
            json={"username": username, "password": password},
            headers={"X-CSRFToken": token},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return cls(url, http, response.json()["csrf_token"])

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-CSRFToken": self.token, **extra}

    def upload_one_request(self, path: Path, **form: str) -> requests.Response:
        """``POST /api/v1/packs`` with the multipart field ``file``."""
        with open(path, "rb") as fh:
            return self.http.post(
                f"{self.url}/api/v1/packs",
                files={"file": (path.name, fh, "application/zip")},
                data=form,
                headers=self.headers(),
                timeout=TIMEOUT,
            )

    # --- tus 1.0 -----------------------------------------------------------------------

    def tus_create(self, length: int, filename: str = "pack.zip", purpose: str = "pack"):
        meta = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (("filename", filename), ("purpose", purpose))
        )
        return self.http.post(
            f"{self.url}/api/v1/uploads",
            headers=self.headers(**TUS, **{"Upload-Length": str(length), "Upload-Metadata": meta}),
            timeout=TIMEOUT,
        )

    def tus_offset(self, location: str) -> int:
        response = self.http.head(location, headers=TUS, timeout=TIMEOUT)
        assert response.status_code == 200, response.status_code
        return int(response.headers["Upload-Offset"])

    def tus_patch(self, location: str, offset: int, chunk: bytes) -> requests.Response:
        return self.http.patch(
            location,
            data=chunk,
            headers=self.headers(
                **TUS,
                **{
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                },
            ),
            timeout=TIMEOUT,
        )

    def tus_upload(self, path: Path, chunk: int = 8 * MIB, start: int = 0, location: str = ""):
        """Send ``path`` (from ``start``) in chunks; return the upload's URL."""
        size = path.stat().st_size
        if not location:
            created = self.tus_create(size, path.name)
            assert created.status_code == 201, created.text
            location = requests.compat.urljoin(self.url + "/", created.headers["Location"])
        offset = start
        with open(path, "rb") as fh:
            fh.seek(offset)
            while offset < size:
                response = self.tus_patch(location, offset, fh.read(chunk))
                assert response.status_code == 204, response.text
                offset = int(response.headers["Upload-Offset"])
        return location

    def install_upload(self, location: str, **extra: object) -> requests.Response:
        """``POST /api/v1/packs`` naming a finished upload."""
        upload_id = location.rstrip("/").rsplit("/", 1)[1]
        return self.http.post(
            f"{self.url}/api/v1/packs",
            json={"upload": upload_id, **extra},
            headers=self.headers(),
            timeout=TIMEOUT,
        )

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)


def send_partly(url: str, head: str, body: bytes, send: int) -> bytes:
    """Send the request ``head`` and the first ``send`` bytes of ``body`` on a raw socket,
    then read what the server answers (until it closes or 10 s pass) and hang up."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body[:send])
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def cut_connection(url: str, head: str, body: bytes, send: int) -> bytes:
    """Send ``head`` and ``send`` bytes of ``body``, wait a moment, then drop the connection
    (as a phone leaving the Wi-Fi would); return whatever the server said meanwhile."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body[:send])
        sock.settimeout(0.5)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""
        finally:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
