"""Back up to and restore from USB sticks through the Site page (issue 19, item 3).

The sticks are real FAT32, exFAT and NTFS images, mounted by a stand-in for the root helper
through FUSE (this kernel has no driver for them): the pages, the helper requests and the
file handling on the stick are the real ones.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_server import accounts
from edge_server.base.datahome import DataHome
from edge_server.base.db import db
from edge_server.site import usb_backup
from edge_server.site.app import create_app

from .conftest import csrf_token, form_csrf

HELPER = Path(__file__).with_name("fake_kru_helper.py")
KRU = [sys.executable, "-m", "edge_server.cli"]
MKFS = {
    "vfat": ["mkfs.vfat", "-F", "32", "-n", "KRUSTICK"],
    "exfat": ["mkfs.exfat", "-L", "KRUSTICK"],
    "ntfs": ["mkntfs", "-F", "-Q", "-L", "KRUSTICK"],
}


class Sticks:
    """Disk images as USB sticks: plug one in, read the helper's log."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "media"
        self.sys_block = tmp_path / "sys-block"
        self.log = tmp_path / "helper.log"
        self.config = tmp_path / "helper.json"
        self.root.mkdir()
        self.sys_block.mkdir()
        self.log.touch()
        self.sticks: dict[str, dict[str, str]] = {}
        self._save()

    def _save(self) -> None:
        self.config.write_text(
            json.dumps({"root": str(self.root), "log": str(self.log), "sticks": self.sticks})
        )

    def plug(self, device: str, fstype: str, size_mb: int = 128) -> Path:
        image = self.config.parent / f"{device}.img"
        with open(image, "wb") as fh:
            fh.truncate(size_mb * 1024 * 1024)
        subprocess.run([*MKFS[fstype], str(image)], check=True, capture_output=True)
        disk = self.sys_block / device.rstrip("0123456789")
        (disk / device).mkdir(parents=True)
        (disk / "removable").write_text("1\n")
        (disk / device / "size").write_text(f"{size_mb * 2048}\n")
        self.sticks[device] = {"image": str(image), "fstype": fstype}
        self._save()
        return image

    def requests(self) -> list[str]:
        return self.log.read_text().split()

    def helper(self, request: str) -> None:
        subprocess.run([sys.executable, str(HELPER), str(self.config), request], check=True)

    def unmount_all(self) -> None:
        for device in self.sticks:
            subprocess.run(
                [sys.executable, str(HELPER), str(self.config), f"eject-{device}"], check=False
            )


@pytest.fixture
def sticks(tmp_path: Path, app_config: dict):
    found = Sticks(tmp_path)
    app_config.update(
        {
            "backup.usb_root": str(found.root),
            "system.sys_block": str(found.sys_block),
            "system.helper": [sys.executable, str(HELPER), str(found.config), "{request}"],
            "system.throttled_file": str(tmp_path / "no-such-flags"),
        }
    )
    yield found
    found.unmount_all()


@pytest.fixture
def admin(login_as, client):
    user = login_as("admin")
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client)})
    return user


def _content(data_dir: Path, size: int = 3 * 1024 * 1024) -> str:
    """Put one content file of ``size`` bytes in the store (a lesson video, say)."""
    blob = (b"lesson video bytes " * (size // 19 + 1))[:size]
    digest = hashlib.sha256(blob).hexdigest()
    (data_dir / "content" / digest[:2]).mkdir(parents=True, exist_ok=True)
    (data_dir / "content" / digest[:2] / digest).write_bytes(blob)
    return digest


def _post(client, url: str, **form: str):
    token = form_csrf(client.get("/admin/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **form}, follow_redirects=True)


def _restart(app_config: dict):
    """What the helper's restart does: the server starts again and swaps the restore in."""
    if not db.is_closed():
        db.close()
    usb_backup.apply_pending_restore(DataHome(Path(app_config["data_dir"])))
    application = create_app(app_config)
    db.connect(reuse_if_open=True)
    return application


@pytest.mark.parametrize("fstype", ["vfat", "exfat", "ntfs"])
def test_back_up_to_a_stick_and_restore_from_it_through_the_site_page(
    fstype, sticks, app, client, admin, app_config, data_dir
):
    sticks.plug("sdz1", fstype)
    digest = _content(data_dir)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-device="sdz1"' in page and "Open" in page

    opened = _post(client, "/admin/usb/open", device="sdz1").get_data(as_text=True)
    assert "The USB stick is open (read-only)." in opened
    assert "Back up to USB" in opened

    done = _post(client, "/admin/usb/backup", device="sdz1").get_data(as_text=True)
    assert "written to the USB stick" in done, re.findall(r"flash[^<]*", done)
    assert sticks.requests() == ["mount-sdz1-ro", "mount-sdz1-rw", "mount-sdz1-ro"]
    on_stick = sorted((sticks.root / "sdz1").glob("kru-backup-*"))
    assert len(on_stick) == 1
    manifest = json.loads((on_stick[0] / "kru-backup.json").read_text())
    assert [e["sha256"] for e in manifest["content"]] == [digest]
    # The database copy was readable on the stick's own file system (its schema is listed)
    # and left no -wal or -shm file there.
    assert "m0001_accounts" in manifest["migrations"]
    assert sorted(p.name for p in on_stick[0].glob("kru.sqlite3*")) == ["kru.sqlite3"]
    assert "Restore" in done and on_stick[0].name in done

    accounts.create_user("made-after", "lotus-pond-7")  # lost by the restore
    (data_dir / "content" / digest[:2] / digest).unlink()
    confirm = client.get(f"/admin/usb/restore?device=sdz1&name={on_stick[0].name}")
    assert "Yes, replace this site with the backup" in confirm.get_data(as_text=True)
    restarting = _post(
        client, "/admin/usb/restore", device="sdz1", name=on_stick[0].name, confirm="yes"
    )
    assert "Kru is restarting" in restarting.get_data(as_text=True)
    assert sticks.requests()[-1] == "restart"

    _restart(app_config)
    names = {u.username for u in accounts.list_users(None)}
    assert admin.username in names and "made-after" not in names
    assert (data_dir / "content" / digest[:2] / digest).is_file()
    assert not (data_dir / usb_backup.PENDING).exists()
    assert list((data_dir / "backups").glob("before-restore-*.sqlite3"))


def test_eject_unmounts_the_stick(sticks, app, client, admin):
    sticks.plug("sdy1", "vfat")
    _post(client, "/admin/usb/open", device="sdy1")
    assert usb_backup.panel(app.config["KRU"], app.config["KRU_HOME"])["mounted"]
    page = _post(client, "/admin/usb/eject", device="sdy1").get_data(as_text=True)
    assert "You can take the USB stick out now." in page
    assert not usb_backup.panel(app.config["KRU"], app.config["KRU_HOME"])["mounted"]


def test_restore_without_the_tick_changes_nothing(sticks, app, client, admin, data_dir):
    sticks.plug("sdy1", "vfat")
    _post(client, "/admin/usb/open", device="sdy1")
    _post(client, "/admin/usb/backup", device="sdy1")
    name = next((sticks.root / "sdy1").glob("kru-backup-*")).name
    page = _post(client, "/admin/usb/restore", device="sdy1", name=name)
    assert "Tick the box to confirm" in page.get_data(as_text=True)
    assert "restart" not in sticks.requests()
    assert not (data_dir / usb_backup.PENDING).exists()


def test_a_damaged_backup_on_the_stick_is_refused_before_the_restart(
    sticks, app, client, admin, data_dir
):
    sticks.plug("sdy1", "vfat")
    _content(data_dir, 200_000)
    _post(client, "/admin/usb/open", device="sdy1")
    _post(client, "/admin/usb/backup", device="sdy1")
    sticks.helper("mount-sdy1-rw")
    backup = next((sticks.root / "sdy1").glob("kru-backup-*"))
    victim = next(p for p in (backup / "content").rglob("*") if p.is_file())
    victim.write_bytes(b"not the lesson any more")
    sticks.helper("mount-sdy1-ro")
    page = _post(client, "/admin/usb/restore", device="sdy1", name=backup.name, confirm="yes")
    assert "does not match its checksum" in page.get_data(as_text=True)
    assert "restart" not in sticks.requests()
    assert not (data_dir / usb_backup.PENDING).exists()


def test_a_stick_too_small_for_the_backup_is_refused(sticks, app, client, admin, data_dir):
    sticks.plug("sdy1", "exfat", size_mb=40)
    _content(data_dir, 45 * 1024 * 1024)
    _post(client, "/admin/usb/open", device="sdy1")
    page = _post(client, "/admin/usb/backup", device="sdy1").get_data(as_text=True)
    assert "The USB stick has" in page and "MB free but the backup needs" in page
    assert sticks.requests()[-1] == "mount-sdy1-ro"  # left read-only again
    assert not list((sticks.root / "sdy1").glob("*kru-backup-*"))


@pytest.mark.parametrize("device", ["../etc", "sda1;reboot", "mmcblk0p2", ""])
def test_a_device_name_the_helper_does_not_take_never_reaches_it(
    device, sticks, app, client, admin
):
    page = _post(client, "/admin/usb/open", device=device).get_data(as_text=True)
    assert "The helper does not do" in page
    assert sticks.requests() == []


def test_khmer_page_says_the_stick_is_open(sticks, app, client, admin):
    sticks.plug("sdy1", "vfat")
    client.post("/language", data={"lang": "km", "csrf_token": csrf_token(client)})
    page = _post(client, "/admin/usb/open", device="sdy1").get_data(as_text=True)
    assert "ឧបករណ៍ USB ត្រូវបានបើក (អានតែប៉ុណ្ណោះ)។" in page


def test_learners_cannot_back_up(sticks, app, client, login_as):
    login_as("learner")
    token = csrf_token(client)
    response = client.post("/admin/usb/backup", data={"device": "sdy1", "csrf_token": token})
    assert response.status_code == 403
    assert sticks.requests() == []


def test_the_site_page_reminds_the_admin_to_back_up(sticks, app, client, admin, data_dir):
    page = client.get("/admin/").get_data(as_text=True)
    assert "never backed up to a USB stick" in page
    sticks.plug("sdy1", "vfat")
    _post(client, "/admin/usb/open", device="sdy1")
    _post(client, "/admin/usb/backup", device="sdy1")
    assert 'id="backup-reminder"' not in client.get("/admin/").get_data(as_text=True)
    record = json.loads((data_dir / usb_backup.LAST).read_text())
    record["at"] = "2020-01-01T00:00:00+00:00"
    (data_dir / usb_backup.LAST).write_text(json.dumps(record))
    assert "days ago" in client.get("/admin/").get_data(as_text=True)


def test_no_reminder_when_the_setting_is_zero(tmp_path):
    home = DataHome(tmp_path)
    assert usb_backup.reminder({"backup.remind_days": 0}, home) is None
    assert usb_backup.reminder({"backup.remind_days": 7}, home) == -1


def test_without_fuse_tools_nothing_is_hidden():
    for tool in ("fusefat", "mount.exfat-fuse", "ntfs-3g", "mkfs.vfat", "mkfs.exfat", "mkntfs"):
        assert shutil.which(tool), f"{tool} is missing: ./dev.sh test installs it"


@pytest.fixture
def release_keys(tmp_path: Path, app_config: dict) -> Path:
    """The ministry's and a stranger's release keys; the site's image trusts the ministry's."""
    keys = tmp_path / "image-keys"
    keys.mkdir()
    for name in ("ministry", "stranger"):
        made = subprocess.run(
            [*KRU, "release", "keygen", "-o", str(tmp_path / f"{name}.key")],
            capture_output=True,
            text=True,
            check=True,
        )
        if name == "ministry":
            (keys / "ministry.pub").write_text(made.stdout)
    app_config["releases.keys_dir"] = str(keys)
    return keys


def _release_on_stick(sticks, tmp_path: Path, signer: str) -> str:
    """Open stick sdz1 and write a Kru bundle signed by ``signer`` on it; return its name."""
    import os
    import platform
    import tarfile

    from tests.bundle_factory import make_bundle

    name = f"kru-bundle-0.2.0-{platform.machine()}"
    (tmp_path / signer).mkdir()
    folder = make_bundle(tmp_path / signer / name, platform.machine(), os.urandom(2 << 20), "0.2.0")
    tar = tmp_path / signer / f"{name}.tar.gz"
    with tarfile.open(tar, "w:gz", compresslevel=1) as tf:
        tf.add(folder, arcname=name)
    subprocess.run(
        [*KRU, "release", "sign", str(tar), "--key", str(tmp_path / f"{signer}.key")],
        check=True,
        capture_output=True,
    )
    sticks.plug("sdz1", "vfat")
    sticks.helper("mount-sdz1-rw")
    shutil.copyfile(tar, sticks.root / "sdz1" / tar.name)
    shutil.copyfile(f"{tar}.sig", sticks.root / "sdz1" / f"{tar.name}.sig")
    sticks.helper("mount-sdz1-ro")
    return tar.name


def test_admin_upgrades_kru_from_a_bundle_on_a_stick(
    sticks, tmp_path, release_keys, app, client, admin, data_dir
):
    name = _release_on_stick(sticks, tmp_path, "ministry")
    page = client.get("/admin/").get_data(as_text=True)
    assert "This Pi runs Kru 0.1.0." in page
    assert name in page and "Upgrade Kru from this stick" in page
    done = _post(client, "/admin/usb/release", device="sdz1", name=name).get_data(as_text=True)
    assert "Kru 0.2.0 is being installed" in done
    assert "Upgrade to 0.2.0 is under way." in done
    staged = data_dir / "releases" / "incoming" / "bundle.tar.gz"
    assert staged.read_bytes() == (sticks.root / "sdz1" / name).read_bytes()
    assert sticks.requests()[-1] == "upgrade"


def test_a_bundle_signed_by_a_stranger_is_refused_in_khmer_and_nothing_is_staged(
    sticks, tmp_path, release_keys, app, client, admin, data_dir
):
    name = _release_on_stick(sticks, tmp_path, "stranger")
    client.post("/language", data={"lang": "km", "csrf_token": csrf_token(client)})
    done = _post(client, "/admin/usb/release", device="sdz1", name=name).get_data(as_text=True)
    assert "មិនទុកចិត្ត" in done  # "does not trust"
    assert not (data_dir / "releases" / "incoming").exists()
    assert "upgrade" not in sticks.requests()


@pytest.fixture
def pack_key(tmp_path: Path, app_config: dict) -> tuple[Path, str]:
    from tests.fleet_support import signing_key

    key, public = signing_key(tmp_path / "pack-key")
    app_config["packs.trusted_keys"] = [public]
    return key, public


def test_admin_installs_a_site_update_stick_written_by_central(
    sticks, tmp_path, release_keys, pack_key, app, client, admin, data_dir
):
    from content_packs.models import Pack
    from tests.fleet_support import random_files, signed_pack
    from tests.sync_support import CentralServer, make_site

    central = CentralServer(tmp_path / "central")
    central.env["KRU_PACKS_TRUSTED_KEYS"] = pack_key[1]
    central.env["KRU_CENTRAL_RELEASE_KEYS_DIR"] = str(release_keys)
    pack = signed_pack(tmp_path, pack_key[0], "1.0.0", random_files({"media/a.bin": 1 << 20}))
    central.cli("pack", "add", str(pack))
    central.provision(make_site(tmp_path, "kampot"), province="Kampot")
    central.cli("pack", "assign", "fleet-pack", "--province", "Kampot")
    name = _release_on_stick(sticks, tmp_path, "ministry")  # leaves the stick read-only
    bundle = sticks.root / "sdz1" / name
    central.cli("release", "add", str(bundle))
    central.cli("release", "assign", "0.2.0", "--province", "Kampot")
    sticks.helper("mount-sdz1-rw")
    wrote = central.cli(
        "stick", "write", str(sticks.root / "sdz1"), "--province", "Kampot", check=False
    )
    sticks.helper("mount-sdz1-ro")
    assert wrote.returncode == 0, wrote.stderr

    page = client.get("/admin/").get_data(as_text=True)
    assert "Site update: 1 packs · Kru 0.2.0" in page
    done = _post(client, "/admin/usb/update", device="sdz1").get_data(as_text=True)
    assert "Site update: 1 packs installed, 0 already here." in done
    assert "Kru 0.2.0 is being installed" in done
    assert {p.pack_id: p.version for p in Pack.select()} == {"fleet-pack": "1.0.0"}
    staged = data_dir / "releases" / "incoming" / "bundle.tar.gz"
    assert staged.read_bytes() == bundle.read_bytes()
    assert sticks.requests()[-1] == "upgrade"


def _events(user_id: int, count: int) -> None:
    from edge_server.learning.models import Event

    Event.insert_many(
        [
            {
                "id": f"00000000-0000-4000-8000-{n:012d}",
                "user": user_id,
                "verb": "viewed",
                "object": "pack1/item1",
                "server_ts": "2026-12-01T08:00:00.000+00:00",
                "boot_id": "boot-1",
            }
            for n in range(count)
        ]
    ).execute()


def test_save_sync_data_to_a_stick_then_a_forged_ack_is_refused(sticks, app, client, admin):
    """Issue 20 item 4: the Site page writes the pending batches to the stick; the cursor moves
    only on central's signed acknowledgement, and one not signed by central is refused."""
    from sync.edge import state
    from sync.edge.identity import load_identity

    _events(admin.id, 7)
    sticks.plug("sdy1", "vfat")
    _post(client, "/admin/usb/open", device="sdy1")
    assert "7 learning records wait to be sent" in client.get("/admin/").get_data(as_text=True)
    page = _post(client, "/admin/usb/sync", device="sdy1").get_data(as_text=True)
    assert "7 learning records saved on the USB stick." in page
    device = load_identity(app.config["KRU_HOME"]).device_id
    folder = sticks.root / "sdy1" / "kru-sync" / device
    assert len(list(folder.glob("*.ndjson.gz"))) == 1
    assert sticks.requests()[-2:] == ["mount-sdy1-rw", "mount-sdy1-ro"]  # read-only again
    assert state.read_state(db).cursor == 0  # saving is not an acknowledgement
    # Someone edits an acknowledgement onto the stick: it is refused, the cursor stays.
    sticks.helper("mount-sdy1-rw")
    (folder / "central-ack.json").write_text(
        json.dumps(
            {"device": device, "acked_seq": 7, "server_time": 1, "batches": [], "signature": "0"}
        )
    )
    sticks.helper("eject-sdy1")
    page = html_text(_post(client, "/admin/usb/open", device="sdy1"))
    assert "not signed by the central server" in page
    assert state.read_state(db).cursor == 0


def html_text(response) -> str:
    import html

    return html.unescape(response.get_data(as_text=True))
