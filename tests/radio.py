"""The phone's Wi-Fi in the browser tests: a TCP relay between a phone's Chromium and the
site that the test switches off and on.

``context.set_offline`` tells the page it is offline, but Chromium does not reliably hold a
service worker's own requests to it (microsoft/playwright#2311): a Background Sync replay
started by the worker could reach the site while the test said "no network". A phone out of
the Wi-Fi cannot reach the Pi at all; the relay does that: switched off, it cuts every open
connection and resets each new one, whoever in the browser makes it.

The relay listens on another loopback address (127.0.0.2) at the site's port and passes to
127.0.0.1: a phone whose Chromium resolves the site's name to 127.0.0.2 goes through it and
keeps the same origin; other phones in the same test (resolving to 127.0.0.1) are not cut.
"""

from __future__ import annotations

import socket
import struct
import threading

ADDRESS = "127.0.0.2"


class Radio:
    """Relay ``ADDRESS:port`` to ``127.0.0.1:port``; ``off()`` cuts the link, ``on()`` brings
    it back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._up = True
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server((ADDRESS, port))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="radio", daemon=True)
        self._thread.start()

    def off(self) -> None:
        """Cut the link: every open connection is reset, and each new one while off."""
        with self._lock:
            self._up = False
            cut = set(self._open)
            self._open.clear()
        for sock in cut:
            _reset(sock)

    def on(self) -> None:
        with self._lock:
            self._up = True

    def stop(self) -> None:
        self._stopped.set()
        self.off()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                phone, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._up:
                _reset(phone)
                continue
            try:
                site = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except OSError:
                _reset(phone)
                continue
            site.settimeout(None)
            with self._lock:
                if not self._up:
                    _reset(phone)
                    _reset(site)
                    continue
                self._open.update((phone, site))
            pair = _Pair(phone, site, self._open, self._lock)
            for src, dst in ((phone, site), (site, phone)):
                threading.Thread(target=pair.pump, args=(src, dst), daemon=True).start()


class _Pair:
    """One phone connection and its connection to the site, pumped both ways."""

    def __init__(self, a: socket.socket, b: socket.socket, live: set, lock: threading.Lock):
        self.socks = (a, b)
        self.live = live
        self.lock = lock
        self.ended = 0

    def pump(self, src: socket.socket, dst: socket.socket) -> None:
        clean = True
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass the end of one direction on
        except OSError:
            clean = False  # a side went, or the radio cut the link
        with self.lock:
            self.ended += 1
            if clean and self.ended < 2:
                return
            for sock in self.socks:
                self.live.discard(sock)
        for sock in self.socks:
            if clean:
                sock.close()
            else:
                _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset, as a link that is gone (not a polite close)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RD)  # wakes a pump blocked reading it; sends nothing
    except OSError:
        pass
    sock.close()
