"""Common Cartridge (.imscc): pages, files, links and discussion topics become items."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from content_packs.importers.convert import import_file
from content_packs.importers.errors import BrokenFile
from tests.packs_factory import install

TESTDATA = Path(
    os.environ.get("KRU_TESTDATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
)
CC = TESTDATA / "common-cartridge"


def _items(pack_zip: Path) -> dict[str, dict]:
    with zipfile.ZipFile(pack_zip) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    return {i["slug"]: i for c in manifest["courses"] for m in c["modules"] for i in m["items"]}


def test_a_canvas_course_becomes_lessons_media_and_links_with_a_report(tmp_path):
    report = import_file(CC / "canvas_course1_pdf_quiz_assignment.imscc", tmp_path / "p.zip")
    items = _items(tmp_path / "p.zip")
    kinds = {slug: item["type"] for slug, item in items.items()}
    assert kinds["first-module-wiki-page-1"] == "lesson"
    assert kinds["sample-document"] == "pdf" and kinds["photo-jpg"] == "image"
    assert kinds["first-module-discussion-1"] == "lesson"
    skipped = dict(report.skipped)
    assert skipped["First Module Quiz 1"].startswith("QTI 1.2 assessments")
    assert skipped["First Module Assignment 1"] == "assignments are not converted"


def test_the_imported_course_installs_and_its_pages_show(app, client, login_as, tmp_path):
    src = CC / "canvas_course1_pdf_quiz_assignment.imscc"
    report = import_file(src, tmp_path / "p.zip", open_course=True)
    install(app, tmp_path / "p.zip")
    login_as("learner")
    pack = report.pack_id
    page = client.get(f"/learn/items/{pack}/first-module-external-url-1").get_data(as_text=True)
    assert 'href="http://google.com"' in page  # kept as a link
    topic = client.get(f"/learn/items/{pack}/first-module-discussion-1").get_data(as_text=True)
    assert "This is RCE content for a Discussion" in topic


def test_a_single_page_cartridge_without_organisation_items_imports_its_page(tmp_path):
    import_file(CC / "canvas_single_page_cc1p3.imscc", tmp_path / "p.zip")
    assert list(_items(tmp_path / "p.zip")) == ["our-purpose"]


def test_a_cartridge_of_quizzes_only_is_refused_saying_why(tmp_path):
    with pytest.raises(BrokenFile, match="QTI 1.2 assessments in cartridges are not converted"):
        import_file(CC / "canvas_quiz_groups_qti.imscc.zip", tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


def test_placeholder_files_are_reported_not_fatal(tmp_path):
    report = import_file(CC / "pyslet_cc1p1_sample1.imscc", tmp_path / "p.zip")
    assert any("is not well-formed XML" in why for _, why in report.skipped)
