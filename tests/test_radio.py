"""The test radio (tests/radio.py) really cuts a phone's link, open connections included."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from tests.livesite import free_port
from tests.radio import ADDRESS, Radio


@pytest.fixture
def echo_and_radio():
    port = free_port()
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the radio resets its side when cut
            while data := conn.recv(1024):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    radio = Radio(port)
    yield radio
    radio.stop()
    stop.set()
    thread.join()
    server.close()


def _talk(sock: socket.socket, text: bytes) -> bytes:
    sock.sendall(text)
    return sock.recv(1024)


def test_the_radio_relays_cuts_open_links_and_refuses_new_ones_until_on(echo_and_radio):
    radio = echo_and_radio
    link = socket.create_connection((ADDRESS, radio.port), timeout=5)
    assert _talk(link, b"hello") == b"hello"

    radio.off()
    with pytest.raises(OSError):  # the open link is gone (reset), not left hanging
        for _ in range(3):
            if _talk(link, b"still there?") == b"":
                raise ConnectionResetError
    link.close()
    # A new link while off is reset at once: at its first word, or already while connecting
    # when the reset comes before the connecting side has seen its handshake (a loaded CI).
    with pytest.raises(OSError), socket.create_connection((ADDRESS, radio.port), 5) as late:
        if _talk(late, b"anyone?") == b"":
            raise ConnectionResetError
    slow = socket.socket()
    slow.setblocking(False)
    with slow, pytest.raises(OSError):
        with contextlib.suppress(BlockingIOError):
            slow.connect((ADDRESS, radio.port))
        time.sleep(0.5)  # the radio has reset it before this side looks
        slow.setblocking(True)
        slow.settimeout(5)
        if _talk(slow, b"anyone?") == b"":
            raise ConnectionResetError

    radio.on()
    with socket.create_connection((ADDRESS, radio.port), timeout=5) as again:
        assert _talk(again, b"back") == b"back"
