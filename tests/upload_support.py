"""Uploads: a signed-in ``requests`` client for a live site, a minimal tus 1.0 client (for
a live site and for the Flask test client), and big packs.

The tus client here follows docs/api.md ("Resumable uploads") step by step, so the tests
exercise the protocol as any other client would; the upload page uses tus-js-client.
"""

from __future__ import annotations

import base64
import os
import select
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.packs_factory import build_pack, media

TIMEOUT = (5, 120)
TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024


def tus_metadata(purpose: str = "pack", filename: str = "pack.zip") -> str:
    """The ``Upload-Metadata`` header: the file's name and what the upload is for."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("filename", filename), ("purpose", purpose))
    )


# --- tus on the Flask test client (tests/test_uploads.py, the authoring media tests) ------


def tus_create(client, length: int, purpose: str = "pack", **headers: str):
    """Create an upload of ``length`` bytes with ``client``, a signed-in Flask test client."""
    from tests.conftest import api_headers

    return client.post(
        "/api/v1/uploads",
        headers={
            **api_headers(client),
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": tus_metadata(purpose),
            **headers,
        },
    )


def tus_patch(client, location: str, offset: int, data: bytes, **headers: str):
    """Send ``data`` at ``offset`` of the upload at ``location`` with a Flask test client."""
    from tests.conftest import api_headers

    return client.patch(
        location,
        data=data,
        headers={
            **api_headers(client),
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
    )


# --- a live site, through requests ----------------------------------------------------


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
        meta = tus_metadata(purpose, filename)
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


@dataclass
class EarlyAnswer:
    """What a server said to a request whose body was only begun (``answer_before_body``)."""

    status: int
    head: bytes
    body: bytes
    closed: bool  # the server ended the connection after its answer (the client read EOF)
    refused_after: int  # bytes more the client sent, drained or not, before it stopped
    cut: bool  # the connection failed (a reset) while the client was sending them


def answer_before_body(
    url: str,
    head: str,
    first: bytes,
    more: int = 8 * MIB,
    meanwhile: Callable[[], object] | None = None,
) -> EarlyAnswer:
    """Send ``head`` and only the ``first`` bytes of its body; read the answer (10 s at most).

    ``meanwhile`` runs after sending, before reading. Then up to ``more`` bytes of the rest
    are sent in 1 MiB blocks, as a client still uploading would: ``cut`` says the server
    reset the connection on them, ``refused_after`` how many went before.
    """
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        try:
            sock.sendall(head.encode("latin-1") + first)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking all of ``first``
        if meanwhile is not None:
            meanwhile()
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        if not answer:
            return EarlyAnswer(0, b"", b"", False, 0, False)
        status = int(answer.split(b" ", 2)[1])
        answer_head, _, body = answer.partition(b"\r\n\r\n")
        sock.settimeout(5)
        try:
            closed = sock.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            closed = False
        sent, cut = 0, False
        try:
            while sent < more:
                sock.sendall(b"\0" * MIB)
                sent += MIB
        except (BrokenPipeError, ConnectionResetError):
            cut = True
        except TimeoutError:  # the server neither reads nor closes
            pass
        return EarlyAnswer(status, answer_head, body, closed, sent, cut)


def open_temp_files(pid: int, folder: Path) -> list[str]:
    """Return the files under ``folder`` that process ``pid`` or its children hold open
    (waitress spools a body over 512 KB to an unlinked temporary file there)."""
    pids, found = [pid], []
    while pids:
        current = pids.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            fds = list(Path(f"/proc/{current}/fd").iterdir())
        except OSError:
            continue  # the process is gone
        pids.extend(int(child) for child in children)
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if link.startswith(str(folder)):
                found.append(link)
    return found


@dataclass
class UploadAnswer:
    """What a client that kept uploading past the server's answer got (``upload_past_answer``)."""

    answer: bytes  # everything the client read, after it stopped sending
    sent_after: int  # body bytes sent after the answer began to arrive
    error: str  # how sending or reading failed ("" when neither did)

    @property
    def status(self) -> int:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/") else 0

    @property
    def head(self) -> bytes:
        return self.answer.partition(b"\r\n\r\n")[0]

    @property
    def body(self) -> bytes:
        return self.answer.partition(b"\r\n\r\n")[2]


def upload_past_answer(
    url: str, head: str, after: int = 8 * MIB, block: int = 64 * 1024
) -> UploadAnswer:
    """Send ``head`` and then its body in ``block``-sized pieces without reading, as a
    browser uploading a file does, until ``after`` bytes more have gone since the answer
    began to arrive; only then read the answer to its end.
    """
    where = urlsplit(url)
    error, sent_after, answered = "", 0, False
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        piece = b"\0" * block
        try:
            sock.sendall(head.encode("latin-1"))
            while sent_after < after:
                sock.sendall(piece)
                if answered:
                    sent_after += block
                else:
                    answered = bool(select.select([sock], [], [], 0)[0])
        except OSError as exc:  # reset, broken pipe, or a server that stopped reading
            error = f"sending: {exc!r}"
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError as exc:
            error = error or f"reading: {exc!r}"
    return UploadAnswer(answer, sent_after, error)


def process_tree(pid: int) -> list[int]:
    """Return ``pid`` and its living descendants (a server's workers)."""
    pids, found = [pid], []
    while pids:
        current = pids.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # the process is gone
        found.append(current)
        pids.extend(int(child) for child in children)
    return found


def _memory(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak_memory(pids: list[int]) -> dict[int, int]:
    """Start each process's peak resident size (``VmHWM``) again from its size now; return
    those sizes, in bytes."""
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return {pid: _memory(pid, "VmRSS") for pid in pids}


def peak_memory_growth(before: dict[int, int]) -> int:
    """Return by how many bytes, at most, a process's peak outgrew its size in ``before``."""
    return max(_memory(pid, "VmHWM") - size for pid, size in before.items())
