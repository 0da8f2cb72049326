"""Central's pack pages: add a signed pack by upload, refusals in Khmer, assign, per-site state."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sync.central import registry
from tests.bundle_factory import release_keys_dir, signed_release
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
            # The key signed_release(tmp_path, ...) signs with, as ministry.pub.
            "central.release_keys_dir": str(release_keys_dir(tmp_path)),
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
    library = page.split('id="library"')[1].split("</table>")[0]
    assert "Kandal" in library and "/fleet/packs/unassign/" in library  # the badge, Remove
    assert 'name="scope" value="province"' in page  # the choice of sites


def test_viewer_may_look_but_not_change(setup, tmp_path: Path) -> None:
    app, key = setup
    client = app.test_client()
    sign_in(client, "viewer")
    assert client.get("/fleet/packs").status_code == 200
    good = signed_pack(tmp_path, key, "1.0.0", {})
    assert _upload(client, good).status_code == 403
    response = client.post("/fleet/packs/assign", data={"pack_id": "x", "scope": "all"})
    assert response.status_code == 403


def test_admin_adds_a_release_assigns_it_and_downloads_a_site_update_stick(
    setup, tmp_path: Path
) -> None:
    import zipfile

    app, _key = setup
    device = registry.add_device("CTC Kampot", "http://c.example", "Kampot").device
    client = app.test_client()
    sign_in(client, "admin")
    client.post("/language", data={"lang": "km"})
    tar, sig = signed_release(tmp_path, "0.2.0")

    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(tar.read_bytes()[:-10] + b"0123456789")
    page = client.post(
        "/fleet/releases/add",
        data={
            "bundle": (io.BytesIO(tampered.read_bytes()), tar.name),
            "signature": (io.BytesIO(sig.read_bytes()), sig.name),
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "checksum ខុសគ្នា" in page  # "checksum differs", in Khmer
    assert "<code>0.2.0</code>" not in page

    page = client.post(
        "/fleet/releases/add",
        data={
            "bundle": (io.BytesIO(tar.read_bytes()), tar.name),
            "signature": (io.BytesIO(sig.read_bytes()), sig.name),
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "<code>0.2.0</code>" in page.split('id="releases"')[1]
    signer = page.split('id="releases"')[1].split('class="signer">')[1].split("</td>")[0]
    assert signer.startswith("ministry <code>") and "badge" not in signer

    page = client.post(
        "/fleet/releases/assign",
        data={"version": "0.2.0", "scope": "site", "site": device.device_id},
        follow_redirects=True,
    ).get_data(as_text=True)
    status = page.split('id="fleet-releases"')[1]
    assert device.device_id in status and "កំពុងរង់ចាំ" in status  # pending
    library = page.split('id="releases"')[1].split("</table>")[0]
    assert device.device_id in library and "/fleet/releases/unassign/" in library
    assert 'name="scope" value="site"' in page

    # The site reports a rollback with its reason code: the page says it in Khmer, with the
    # site's English detail beside it; a code central does not know is kept as none.
    from sync.central import releases as central_releases

    report = {
        "running": "0.1.0",
        "version": "0.2.0",
        "state": "failed",
        "code": "interrupted",
        "reason": "the power was cut after the switch; Kru 0.2.0 did not answer /healthz",
    }
    assert central_releases.record_report(device, {"release": report})
    status = client.get("/fleet/releases").get_data(as_text=True).split('id="fleet-releases"')[1]
    assert 'data-code="interrupted"' in status
    assert "ភ្លើងបានដាច់ពេលកំពុងដំឡើងកំណែថ្មី" in status
    assert "the power was cut after the switch" in status
    central_releases.record_report(device, {"release": {**report, "code": "<b>made-up</b>"}})
    status = client.get("/fleet/releases").get_data(as_text=True).split('id="fleet-releases"')[1]
    assert "data-code=" not in status and "made-up" not in status

    empty = client.post("/fleet/stick", data={"province": "Takeo"}, follow_redirects=True)
    assert "គ្មានអ្វីត្រូវបានកំណត់ឱ្យ Takeo" in empty.get_data(as_text=True)
    got = client.post("/fleet/stick", data={"site": device.device_id})
    body = got.data
    got.close()
    assert got.status_code == 200 and got.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        names = set(zf.namelist())
        assert f"kru-update/release/{tar.name}" in names
        assert zf.read(f"kru-update/release/{tar.name}") == tar.read_bytes()
        index = __import__("json").loads(zf.read("kru-update/update.json"))
    assert index["for"] == {"site": device.device_id}
    assert [r["version"] for r in index["releases"]] == ["0.2.0"]


def _add_release(client, tar: Path, sig: Path) -> str:
    data = {
        "bundle": (io.BytesIO(tar.read_bytes()), tar.name),
        "signature": (io.BytesIO(sig.read_bytes()), sig.name),
    }
    return client.post("/fleet/releases/add", data=data, follow_redirects=True).get_data(
        as_text=True
    )


def test_a_release_signed_by_a_key_central_does_not_trust_is_refused_in_khmer_and_english(
    setup, tmp_path: Path
) -> None:
    from sync.central.library_models import LibraryRelease

    app, _key = setup
    home = app.config["KRU_HOME"]
    client = app.test_client()
    sign_in(client, "admin")
    (tmp_path / "stranger").mkdir()
    tar, sig = signed_release(tmp_path / "stranger", "0.4.0")  # a key of its own

    client.post("/language", data={"lang": "km"})
    page = _add_release(client, tar, sig)
    assert "ដែលម៉ាស៊ីនមេកណ្ដាលមិនទុកចិត្ត" in page  # "which central does not trust"
    assert "<code>0.4.0</code>" not in page
    client.post("/language", data={"lang": "en"})
    page = _add_release(client, tar, sig)
    assert "Kru 0.4.0 is signed by key" in page and "which central does not trust" in page
    assert LibraryRelease.select().count() == 0
    assert not [p for p in (home.root / "library").rglob("*") if p.is_file()]
    assert not [p for p in home.root.iterdir() if p.name.startswith("tmp") and p.name != "tmp"]

    # A key central no longer trusts (its .pub removed after the release was added): flagged.
    good, good_sig = signed_release(tmp_path, "0.2.0")
    assert "<code>0.2.0</code>" in _add_release(client, good, good_sig)
    folder = Path(app.config["KRU"]["central.release_keys_dir"])
    (folder / "ministry.pub").unlink()
    page = client.get("/fleet/releases").get_data(as_text=True)
    signer = page.split('id="releases"')[1].split('class="signer">')[1].split("</td>")[0]
    assert "not trusted by central" in signer
    assert 'id="no-release-keys"' in page and str(folder) in page
    page = _add_release(client, good, good_sig)
    assert "Central trusts no release key" in page


def test_viewer_sees_releases_but_cannot_add_assign_or_write_sticks(setup) -> None:
    app, _key = setup
    client = app.test_client()
    sign_in(client, "viewer")
    assert client.get("/fleet/releases").status_code == 200
    assert client.post("/fleet/releases/assign", data={"version": "x"}).status_code == 403
    assert client.post("/fleet/stick", data={"province": "Kandal"}).status_code == 403
