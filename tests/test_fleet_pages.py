"""Central's pack pages: add a signed pack by upload, refusals in Khmer, assign, per-site state."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sync.central import registry
from tests.central_support import sign_in
from tests.fleet_support import random_files, signed_pack, signing_key
from tests.packs_factory import build_pack

FAST = {"auth.hash_memory_kib": 1024, "auth.hash_time_cost": 1}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch):
    from sync.central import create_app
    from sync.central.db import database

    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    key, public = signing_key(tmp_path / "key")
    app = create_app(
        {
            "data_dir": str(tmp_path / "central"),
            "packs.trusted_keys": [public],
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            **FAST,
        }
    )
    database.connect(reuse_if_open=True)
    yield app, key
    if not database.is_closed():
        database.close()


def _upload(client, path: Path):
    data = {"pack": (io.BytesIO(path.read_bytes()), path.name)}
    return client.post("/fleet/packs/add", data=data, follow_redirects=True)


def test_admin_adds_assigns_and_sees_each_site(setup, tmp_path: Path) -> None:
    app, key = setup
    device = registry.add_device("TEC Kandal", "http://c.example", "Kandal").device
    client = app.test_client()
    sign_in(client, "admin")
    client.post("/language", data={"lang": "km"})

    unsigned = build_pack(tmp_path, "fleet-pack", "1.0.0")
    page = _upload(client, unsigned).get_data(as_text=True)
    assert "មិនមានហត្ថលេខាទេ" in page  # "not signed", in Khmer
    assert "<code>fleet-pack</code>" not in page

    good = signed_pack(tmp_path, key, "1.0.0", random_files({"media/a.bin": 2 * 1024 * 1024}))
    page = _upload(client, good).get_data(as_text=True)
    assert "<code>fleet-pack</code>" in page.split('id="library"')[1]

    page = client.post(
        "/fleet/packs/assign",
        data={"pack_id": "fleet-pack", "scope": "province", "province": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "សូមដាក់ឈ្មោះខេត្ត" in page  # "Name the province"
    page = client.post(
        "/fleet/packs/assign",
        data={"pack_id": "fleet-pack", "scope": "province", "province": "Kandal"},
        follow_redirects=True,
    ).get_data(as_text=True)
    status = page.split('id="fleet-packs"')[1]
    assert device.device_id in status and "កំពុងរង់ចាំ" in status  # pending


def test_viewer_may_look_but_not_change(setup, tmp_path: Path) -> None:
    app, key = setup
    client = app.test_client()
    sign_in(client, "viewer")
    assert client.get("/fleet/packs").status_code == 200
    good = signed_pack(tmp_path, key, "1.0.0", {})
    assert _upload(client, good).status_code == 403
    response = client.post("/fleet/packs/assign", data={"pack_id": "x", "scope": "all"})
    assert response.status_code == 403
