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
    assert items["first-module-quiz-1"]["type"] == "quiz"
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


def test_qti_assessments_in_a_cartridge_become_quizzes(tmp_path):
    import_file(CC / "canvas_all_question_types_qti.imscc", tmp_path / "p.zip")
    (quiz,) = _items(tmp_path / "p.zip").values()
    questions = quiz["quiz"]["questions"]
    assert [q["type"] for q in questions] == ["single", "single", "multiple", "essay"]
    assert questions[0]["prompt_en"] == 'How many letters does the word, "RED" have?'
    assert questions[0]["answer"] == "c3"  # "3"


def test_question_groups_become_one_quiz_per_assessment(tmp_path):
    import_file(CC / "canvas_quiz_groups_qti.imscc.zip", tmp_path / "p.zip")
    sizes = {slug: len(i["quiz"]["questions"]) for slug, i in _items(tmp_path / "p.zip").items()}
    assert sizes == {"grouped-questions": 3, "mixed-quiz": 2, "ungrouped-quiz": 1}


def test_a_cartridge_with_nothing_usable_is_refused(tmp_path):
    src = tmp_path / "empty.imscc"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr(
            "imsmanifest.xml",
            '<manifest xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imscp_v1p1">'
            "<organizations/><resources/></manifest>",
        )
    with pytest.raises(BrokenFile, match="holds nothing Kru can use"):
        import_file(src, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


def test_placeholder_files_are_reported_not_fatal(tmp_path):
    report = import_file(CC / "pyslet_cc1p1_sample1.imscc", tmp_path / "p.zip")
    assert any("is not well-formed XML" in why for _, why in report.skipped)
