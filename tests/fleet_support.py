"""Helpers of the fleet tests: signed multi-MB packs, a TCP proxy that counts and cuts, and a
site that syncs its packs with central."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from content_packs.models import Pack
from content_packs.signing import generate_key, sign_pack
from edge_server.site.database import open_site
from sync.edge.agent import sync_once as agent_sync_once
from tests.packs_factory import build_pack, lesson


def signing_key(root: Path) -> tuple[Path, str]:
    """Return (private key path, public key base64) of a new Ed25519 pack key."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "ministry.key"
    return path, generate_key(path)


def signed_pack(
    root: Path, key: Path, version: str, files: dict[str, bytes], pack_id: str = "fleet-pack"
) -> Path:
    """Build and sign a pack holding one lesson and ``files`` (random media)."""
    zip_path = build_pack(
        root, pack_id, version, items=[lesson("welcome")], extra_files=dict(files)
    )
    sign_pack(zip_path, key)
    return zip_path


def random_files(sizes: dict[str, int]) -> dict[str, bytes]:
    return {name: os.urandom(size) for name, size in sizes.items()}


class CountingProxy:
    """Forward TCP to ``target_port``; count bytes sent down; optionally cut once.

    ``cut_after``: close the first connection whose downstream passes this many bytes.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.down = 0
        self.cut_after: int | None = None
        self.cuts = 0
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        passed = [0]

        def up() -> None:
            try:
                while data := client.recv(65536):
                    server.sendall(data)
            except OSError:
                pass
            finally:
                server.close()

        threading.Thread(target=up, daemon=True).start()
        try:
            while data := server.recv(65536):
                with self._lock:
                    limit = self.cut_after
                    if limit is not None and passed[0] + len(data) > limit:
                        data = data[: max(0, limit - passed[0])]
                        self.cut_after = None
                        self.cuts += 1
                        cut = True
                    else:
                        cut = False
                    self.down += len(data)
                passed[0] += len(data)
                client.sendall(data)
                if cut:
                    break
        except OSError:
            pass
        finally:
            client.close()
            server.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


# -- a site that syncs with central ----------------------------------------------------


def sync_once(settings):
    """One pass of the sync agent on the site in ``settings`` (opened the one way)."""
    home, db = open_site(settings)
    try:
        return agent_sync_once(settings, home, db)
    finally:
        db.close()


def site_settings(site, url: str, key: str, **more):
    """The site's settings pointed at central ``url``, trusting only the pack key ``key``."""
    return site.settings.replace(
        sync__central_url=url, packs__trusted_keys=[key], packs__allow_unsigned=False, **more
    )


def installed_packs(site) -> dict[str, str]:
    """The packs installed on ``site``: pack id -> version."""
    db = site.open()
    try:
        return {p.pack_id: p.version for p in Pack.select()}
    finally:
        db.close()
