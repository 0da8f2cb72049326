"""Central behind the nginx front it ships (deploy/central/nginx-kru-central.conf): a body
just over each of central's caps gets central's own 413 (its code, its message) through
nginx, at once; just over nginx's backstop caps, nginx's bare 413; within them, the body
gets through to central.

Real parts: ``kru central serve`` on loopback, Debian's nginx with the shipped server block
(only its port, upstream port and certificate paths changed) and a self-signed certificate.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bench.server import free_port
from edge_server.web.i18n import load_catalog
from sync import protocol
from tests.sync_support import CentralServer, wait_until

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "central" / "nginx-kru-central.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MIB = 1024 * 1024

MAIN_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {site};
}}
"""


@dataclass
class Front:
    url: str
    port: int
    cafile: Path


def _certificate(folder: Path) -> None:
    folder.mkdir()
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=central.example.org",
            "-addext", "subjectAltName=DNS:central.example.org,IP:127.0.0.1",
            "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


def _render(work: Path, port: int, backend: int) -> Path:
    text = SHIPPED.read_text()
    for old, new in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("server 127.0.0.1:8090;", f"server 127.0.0.1:{backend};"),
        ("/etc/kru-central/tls/", f"{work / 'tls'}/"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    site = work / "kru-central.conf"
    site.write_text(text)
    main = work / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    main.write_text(MAIN_CONF.format(user=user, work=work, site=site))
    return main


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    work = tmp_path_factory.mktemp("central-nginx")
    (work / "tmp").mkdir()
    central = CentralServer(work / "central")
    central.env["KRU_TRUSTED_PROXIES"] = "1"
    central.env["TMPDIR"] = str(work / "tmp")
    central.start()
    _certificate(work / "tls")
    port = free_port()
    conf = _render(work, port, central.port)
    proxy = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(work)])
    here = Front(f"https://127.0.0.1:{port}", port, work / "tls" / "fullchain.pem")

    def up() -> bool:
        try:
            return requests.get(here.url + "/healthz", verify=here.cafile, timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, timeout=20)
        yield here
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        central.stop()


@dataclass
class Answer:
    status: int
    head: bytes
    body: bytes


def _early_answer(front: Front, path: str, length: int, content_type: str) -> Answer | None:
    """Send a POST declaring ``length`` bytes and only its first MiB; return the answer that
    comes within 3 s (None if none comes: the body is being waited for)."""
    context = ssl.create_default_context(cafile=str(front.cafile))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: central.example.org\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(head.encode("latin-1") + b"{" * MIB)
            sock.settimeout(3)
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
                    head_part, sep, body = answer.partition(b"\r\n\r\n")
                    if sep and _complete(head_part, body):
                        break
            except TimeoutError:
                pass
    if not answer:
        return None
    head_part, _, body = answer.partition(b"\r\n\r\n")
    return Answer(int(head_part.split(b" ", 2)[1]), head_part, body)


def _complete(head: bytes, body: bytes) -> bool:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _by_nginx(answer: Answer) -> bool:
    return b"<center>nginx" in answer.body


def _kru_message(answer: Answer, message: str) -> bool:
    page = answer.body.decode()
    translated = load_catalog("km").gettext(message)
    return any(text.split("%", 1)[0][:40] in page for text in (message, translated))


RELEASE_MESSAGE = (
    "A release uploaded here may have at most 256 MB; add larger ones with kru central release add"
)
PACK_MESSAGE = (
    "A pack uploaded here may have at most 64 MB; add larger ones with kru central pack add"
)
FORM = "multipart/form-data; boundary=x"


@pytest.mark.parametrize(
    ("path", "length", "content_type", "message"),
    [
        ("/fleet/releases/add", 256 * MIB + 1, FORM, RELEASE_MESSAGE),
        ("/fleet/packs/add", 64 * MIB + 1, FORM, PACK_MESSAGE),
    ],
)
def test_just_over_an_upload_pages_cap_gets_centrals_413_through_nginx(
    front, path, length, content_type, message
):
    answer = _early_answer(front, path, length, content_type)
    assert answer is not None and answer.status == 413, answer
    assert not _by_nginx(answer)
    assert _kru_message(answer, message), answer.body[:500]


def test_a_sync_batch_just_over_its_cap_gets_centrals_json_413_through_nginx(front):
    answer = _early_answer(front, protocol.BATCHES_PATH, 9 * MIB, "application/json")
    assert answer is not None and answer.status == 413, answer
    assert json.loads(answer.body)["error"]["code"] == protocol.E_BATCH_TOO_LARGE


@pytest.mark.parametrize(
    ("path", "length"),
    [
        ("/fleet/releases/add", 257 * MIB + 1),
        ("/fleet/packs/add", 65 * MIB + 1),
        (protocol.BATCHES_PATH, 9 * MIB + 1),
    ],
)
def test_past_nginxs_backstop_nginx_answers_413_itself(front, path, length):
    answer = _early_answer(front, path, length, "application/octet-stream")
    assert answer is not None and answer.status == 413, answer
    assert _by_nginx(answer)


def test_a_release_of_exactly_256_mib_is_not_refused_at_its_headers(front):
    assert _early_answer(front, "/fleet/releases/add", 256 * MIB, FORM) is None


def _body(size: int, content_type: str) -> bytes:
    """``size`` bytes: a multipart form with one file field, or JSON-looking filler."""
    if content_type != FORM:
        return b"{" * size
    head = (
        b'--x\r\nContent-Disposition: form-data; name="pack"; filename="p.zip"\r\n'
        b"Content-Type: application/zip\r\n\r\n"
    )
    tail = b"\r\n--x--\r\n"
    return head + b"\0" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize(
    ("path", "size", "content_type"),
    [(protocol.BATCHES_PATH, 8 * MIB, "application/json"), ("/fleet/packs/add", 64 * MIB, FORM)],
)
def test_a_body_of_exactly_the_cap_gets_through_to_central(front, path, size, content_type):
    started = time.monotonic()
    response = requests.post(
        front.url + path,
        data=_body(size, content_type),
        headers={"Content-Type": content_type},
        verify=front.cafile,
        allow_redirects=False,
        timeout=(5, 120),
    )
    assert response.status_code not in (413, 502), response.text[:300]
    assert "nginx" not in response.text  # judged by central (unsigned, or no session)
    assert time.monotonic() - started < 120


def test_a_browser_still_uploading_gets_centrals_413_through_nginx(front):
    """nginx streams the body to central, relays central's early 413 and does its own
    lingering close toward the browser (so this held before central lingered too)."""
    context = ssl.create_default_context(cafile=str(front.cafile))
    head = (
        "POST /fleet/packs/add HTTP/1.1\r\nHost: central.example.org\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: {65 * MIB}\r\n\r\n"
    )
    error, after, answered = "", 0, False
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            try:
                sock.sendall(head.encode("latin-1"))
                while after < 8 * MIB:
                    sock.sendall(b"\0" * (64 * 1024))
                    if answered:
                        after += 64 * 1024
                    else:
                        answered = bool(select.select([sock], [], [], 0)[0])
            except OSError as exc:
                error = f"sending: {exc!r}"
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except OSError as exc:
                error = error or f"reading: {exc!r}"
    assert answer.startswith(b"HTTP/1.1 413"), (error, answer[:300])
    assert _kru_message(Answer(413, b"", answer.partition(b"\r\n\r\n")[2]), PACK_MESSAGE)
    assert error == ""
