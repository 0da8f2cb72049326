"""Every kind of bad pack is refused with a clear problem and leaves the site as it was."""

from __future__ import annotations

import hashlib
import io
import os
import random
import stat
import zipfile

import pytest

from content_packs import install as installer
from content_packs.errors import InvalidPack, NotEnoughSpace
from content_packs.validate import validate_pack
from tests.packs_factory import build_pack, install, lesson, media
from tests.packs_helpers import edit_manifest, rewrite, snapshot


@pytest.fixture
def good(app, tmp_path):
    """A pack already installed (so the store is not empty) and a second good zip to spoil."""
    install(app, build_pack(tmp_path, pack_id="installed", items=[lesson("a"), media("pdf")]))
    return build_pack(tmp_path, pack_id="incoming", items=[lesson("b"), media("image")])


def _refused(app, zip_path, code: str) -> InvalidPack:
    """Install ``zip_path``, expect InvalidPack with ``code``, and check nothing changed."""
    before = snapshot(app)
    with pytest.raises(InvalidPack) as excinfo:
        install(app, zip_path)
    assert excinfo.value.code == code, excinfo.value.problems
    assert snapshot(app) == before
    return excinfo.value


def _symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def test_not_a_zip_is_refused(app, tmp_path, good):
    bad = tmp_path / "notes.zip"
    bad.write_text("this is a text file")
    error = _refused(app, bad, "not_a_zip")
    assert "notes.zip" in error.message


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "C:/x.txt"])
def test_entries_outside_the_root_are_refused(app, tmp_path, good, name):
    bad = rewrite(good, tmp_path / "slip.zip", add=[(name, b"x")])
    error = _refused(app, bad, "zip_unsafe_path")
    assert name in error.message


def test_symlink_entries_are_refused(app, tmp_path, good):
    bad = rewrite(good, tmp_path / "link.zip", add=[(_symlink_info("media/link"), b"/etc/passwd")])
    _refused(app, bad, "zip_symlink")


def test_total_uncompressed_size_over_the_limit_is_refused(app, tmp_path, app_config):
    app.config["KRU"] = app.config["KRU"].replace(packs__max_uncompressed_mb=1)
    big = build_pack(tmp_path, items=[media("pdf", data=os.urandom(1_200_000))])
    error = _refused(app, big, "zip_bomb")
    assert "1 MB" in error.message


def test_compression_ratio_over_the_limit_is_refused(app, tmp_path, good):
    bomb = rewrite(good, tmp_path / "bomb.zip", add=[("media/zeros.bin", b"\0" * 5_000_000)])
    _refused(app, bomb, "zip_bomb")


def test_many_small_entries_that_expand_too_much_together_are_refused(app, tmp_path, good):
    # 150 entries of 1 MiB of zeros: a 180 KB zip that expands to 150 MiB.
    zeros = [(f"media/z{n:03}.bin", b"\0" * (1024 * 1024)) for n in range(150)]
    bomb = rewrite(good, tmp_path / "many.zip", add=zeros)
    assert bomb.stat().st_size < 300_000
    error = _refused(app, bomb, "zip_bomb")
    assert "in all" in error.message


def test_a_web_app_of_many_small_entries_that_expand_too_much_is_refused(app, tmp_path):
    good = build_pack(tmp_path, items=[media("html5", "game")])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:  # the builder refuses this
        zf.writestr("index.html", "<h1>x</h1>")
        for n in range(150):
            zf.writestr(f"z{n:03}.txt", "0" * (1024 * 1024))
    app_zip = buf.getvalue()

    def swap(manifest: dict) -> None:
        entry = next(f for f in manifest["files"] if f["path"] == "apps/game.zip")
        entry.update(sha256=hashlib.sha256(app_zip).hexdigest(), size=len(app_zip))

    edited = edit_manifest(good, tmp_path / "edited.zip", swap)
    bomb = rewrite(edited, tmp_path / "app-bomb.zip", {"apps/game.zip": app_zip})
    error = _refused(app, bomb, "zip_bomb")
    assert error.problems[0].file == "apps/game.zip!"


def test_many_lessons_of_text_are_not_a_bomb(app, tmp_path):
    words = "ការ អាន ជាមួយ គ្នា ជួយ សិស្ស ឱ្យ យល់ ពាក្យ ថ្មី គ្រូ សៀវភៅ ថ្នាក់ រៀន".split()
    pick = random.Random(12).choice
    lessons = [
        lesson(f"l{n}", body="# មេរៀន\n\n" + " ".join(pick(words) for _ in range(20_000)))
        for n in range(60)
    ]
    assert install(app, build_pack(tmp_path, items=lessons)).pack_id == "demo-pack"


def test_too_many_entries_are_refused(app, tmp_path):
    app.config["KRU"] = app.config["KRU"].replace(packs__max_entries=3)
    many = build_pack(tmp_path, items=[lesson("a"), lesson("b"), lesson("c")])
    error = _refused(app, many, "zip_too_many_entries")
    assert "at most 3" in error.message


def test_missing_manifest_is_refused(app, tmp_path, good):
    bad = rewrite(good, tmp_path / "nomanifest.zip", {"manifest.json": None})
    _refused(app, bad, "manifest_missing")


def test_malformed_manifest_is_refused(app, tmp_path, good):
    bad = rewrite(good, tmp_path / "broken.zip", {"manifest.json": b'{"id": "x",'})
    _refused(app, bad, "manifest_malformed")


def test_manifest_failing_the_schema_names_the_field(app, tmp_path, good):
    bad = edit_manifest(good, tmp_path / "schema.zip", lambda m: m.update(id="Not A Slug"))
    error = _refused(app, bad, "manifest_schema")
    assert "manifest.id" in error.message


def test_unknown_item_type_fails_the_schema(app, tmp_path, good):
    def change(m):
        m["courses"][0]["modules"][0]["items"][0]["type"] = "game"

    _refused(app, edit_manifest(good, tmp_path / "type.zip", change), "manifest_schema")


def test_file_listed_but_missing_is_refused(app, tmp_path, good):
    bad = rewrite(good, tmp_path / "missing.zip", {"media/image-1.png": None})
    error = _refused(app, bad, "file_missing")
    assert error.problems[0].file == "media/image-1.png"


def test_file_present_but_not_listed_is_refused(app, tmp_path, good):
    bad = rewrite(good, tmp_path / "extra.zip", add=[("media/extra.txt", b"hello")])
    error = _refused(app, bad, "file_unlisted")
    assert error.problems[0].file == "media/extra.txt"


def test_checksum_mismatch_is_refused(app, tmp_path, good):
    with zipfile.ZipFile(good) as zf:
        original = zf.read("media/image-1.png")
    changed = bytes([original[0] ^ 1]) + original[1:]  # same size, other bytes
    bad = rewrite(good, tmp_path / "tampered.zip", {"media/image-1.png": changed})
    error = _refused(app, bad, "checksum_mismatch")
    assert error.problems[0].file == "media/image-1.png"


def test_checksum_mismatch_of_a_file_already_stored_is_refused(app, tmp_path, good):
    """A file whose sha256 is in the store already is still verified, not skipped."""
    first = build_pack(tmp_path, pack_id="other", items=[media("image")])
    install(app, first)
    with zipfile.ZipFile(good) as zf:
        original = zf.read("media/image-1.png")
    bad = rewrite(good, tmp_path / "t2.zip", {"media/image-1.png": original[::-1]})
    _refused(app, bad, "checksum_mismatch")


def test_lesson_that_is_not_utf8_is_refused(app, tmp_path, good):
    def change(m):
        for f in m["files"]:
            if f["path"] == "lessons/b.md":
                f["size"] = 4
                f["sha256"] = __import__("hashlib").sha256(b"\xff\xfe\x00x").hexdigest()

    bad = edit_manifest(good, tmp_path / "enc.zip", change)
    bad = rewrite(bad, tmp_path / "enc2.zip", {"lessons/b.md": b"\xff\xfe\x00x"})
    _refused(app, bad, "lesson_not_utf8")


def test_pack_larger_than_free_disk_is_refused(app, tmp_path, good, monkeypatch):
    monkeypatch.setattr(installer, "free_bytes", lambda path: 5 * 1024 * 1024)
    before = snapshot(app)
    with pytest.raises(NotEnoughSpace) as excinfo:
        install(app, good)
    assert "MB are free" in excinfo.value.message
    assert snapshot(app) == before


def test_validate_lists_every_problem_with_its_file(app, tmp_path, good):
    bad = rewrite(
        good,
        tmp_path / "two.zip",
        {"media/image-1.png": None},
        add=[("media/extra.txt", b"hello")],
    )
    problems = validate_pack(bad, app.config["KRU"])
    assert {(p.code, p.file) for p in problems} == {
        ("file_missing", "media/image-1.png"),
        ("file_unlisted", "media/extra.txt"),
    }
