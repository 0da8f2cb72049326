"""``kru pack import`` of Moodle course backups (.mbz), issue 18 item 5.

The fixtures are made by tests/mbz_factory.py (see there where their shape comes from).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from content_packs.importers.convert import import_file
from content_packs.importers.errors import BrokenFile
from tests.mbz_factory import KHMER_PAGE, members, write_mbz

TESTDATA = Path(
    os.environ.get("KRU_TESTDATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
)


def _pack(path: Path) -> tuple[dict, zipfile.ZipFile]:
    zf = zipfile.ZipFile(path)
    return json.loads(zf.read("manifest.json")), zf


@pytest.mark.parametrize("versions", [True, False], ids=["moodle4", "moodle3"])
def test_a_course_backup_becomes_a_course_with_its_sections(tmp_path, versions):
    src = write_mbz(tmp_path / "backup-moodle2-course-7.mbz", members(versions))
    report = import_file(src, tmp_path / "p.zip")
    manifest, zf = _pack(tmp_path / "p.zip")
    course = manifest["courses"][0]
    assert manifest["title"]["km"] == "វគ្គបណ្តុះបណ្តាលគ្រូ"
    assert report.pack_id == "moodle-course-7-moodle-example-edu-kh"
    assert [(m["slug"], m["title"]["km"]) for m in course["modules"]] == [
        ("section-0", "General"),
        ("section-1", "សប្តាហ៍ទី១"),
    ]
    general, week = course["modules"]
    assert [(i["slug"], i["type"]) for i in general["items"]] == [
        ("welcome", "lesson"),
        ("page", "lesson"),  # a Khmer name has no Latin slug
    ]
    assert general["items"][1]["title"]["km"] == "ការរៀបចំថ្នាក់"
    assert zf.read(general["items"][1]["file"]).decode() == KHMER_PAGE
    assert [i["type"] for i in week["items"]] == ["lesson", "pdf", "quiz"]  # URL first
    assert b"https://www.moeys.gov.kh/" in zf.read(week["items"][0]["file"])
    quiz = week["items"][2]["quiz"]["questions"]
    assert [q["type"] for q in quiz] == ["single", "true_false", "short_text", "essay", "matching"]
    assert quiz[0]["prompt_km"] == "តើសិស្សរៀនល្អបំផុតពេលណា?" and quiz[0]["answer"] == "c2"
    assert quiz[1]["answer"] is True  # version 2 of the entry, not the old one
    skipped = dict(report.skipped)
    assert skipped["Questions for the trainer"] == "Moodle forum activities are not converted"
    assert any("calculated" in why for why in skipped.values())
    assert any("random questions" in why for why in skipped.values())


def test_a_backup_of_moodle_2_0_is_a_zip_and_imports_too(tmp_path):
    src = write_mbz(tmp_path / "old.mbz", as_zip=True)
    report = import_file(src, tmp_path / "p.zip")
    assert report.format == "Moodle backup"
    assert len(report.converted) == 5


def test_a_backup_with_nothing_kru_can_use_is_refused_naming_why(tmp_path):
    src = TESTDATA / "moodle-mbz" / "backup-moodle2-course-with-studentquiz-m400.mbz"
    with pytest.raises(BrokenFile, match="Moodle studentquiz activities are not converted"):
        import_file(src, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


@pytest.mark.parametrize(
    ("member", "message"),
    [("../evil.xml", "a path outside the backup"), ("/etc/x.xml", "a path outside the backup")],
)
def test_hostile_tar_paths_are_refused(tmp_path, member, message):
    files = members()
    files[member] = b"<x/>"
    with pytest.raises(BrokenFile, match=message):
        import_file(write_mbz(tmp_path / "evil.mbz", files), tmp_path / "p.zip")


def test_a_link_in_the_backup_is_refused(tmp_path):
    src = tmp_path / "link.mbz"
    with tarfile.open(src, "w:gz") as tar:
        for name, data in members().items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("files/aa/secret")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(BrokenFile, match="a link or a path outside the backup"):
        import_file(src, tmp_path / "p.zip")


def test_a_damaged_backup_is_refused(tmp_path):
    src = tmp_path / "broken.mbz"
    src.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    with pytest.raises(BrokenFile, match="damaged backup"):
        import_file(src, tmp_path / "p.zip")


def test_a_backup_without_moodle_backup_xml_is_refused(tmp_path):
    files = members()
    del files["moodle_backup.xml"]
    with pytest.raises(BrokenFile, match="has no moodle_backup.xml"):
        import_file(write_mbz(tmp_path / "x.mbz", files), tmp_path / "p.zip")
