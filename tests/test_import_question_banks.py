"""``kru pack import`` of question banks: GIFT, Aiken, Moodle XML, QTI 2.1 (issue 18)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from content_packs.errors import InvalidPack
from content_packs.importers.convert import import_file
from content_packs.importers.errors import BrokenFile, UnknownFormat
from edge_server.learning import assignments
from edge_server.learning import quiz as quizzes
from edge_server.learning.models import Progress
from tests.learning_catalog import ev, post_events
from tests.packs_factory import install

# Beside the clone (../shared/testdata) in CI; KRU_TESTDATA points elsewhere (worktrees).
TESTDATA = Path(
    os.environ.get("KRU_TESTDATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
)
QUIZ_FORMATS = TESTDATA / "quiz-formats"

GIFT_KM = """// សំណួរសាកល្បង
$CATEGORY: $course$/ការអាន

::ការអាន::តើគ្រូគួរអានឮៗរៀងរាល់ថ្ងៃទេ?{
  =បាទ/ចាស #ត្រឹមត្រូវ
  ~ទេ #សូមព្យាយាមម្ដងទៀត
}

::ផ្គូផ្គង::ផ្គូផ្គងពាក្យ {
  =ឆ្មា -> សត្វ
  =បាយ -> អាហារ
}

::អត្ថបទ::ពិពណ៌នាថ្នាក់រៀនរបស់អ្នក។ {}

សៀវភៅជួយសិស្ស។{T}
"""

AIKEN_KM = """តើរាជធានីនៃកម្ពុជាគឺជាអ្វី?
A) ភ្នំពេញ
B) សៀមរាប
ANSWER: A
"""

MOODLE_XML_KM = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/top/គណិតវិទ្យា</text></category></question>
  <question type="multichoice">
    <name><text>បូក</text></name>
    <questiontext format="html"><text><![CDATA[<p>២ + ២ = <b>?</b></p>]]></text></questiontext>
    <single>true</single>
    <answer fraction="100"><text>៤</text></answer>
    <answer fraction="0"><text>៥</text></answer>
  </question>
  <question type="truefalse">
    <questiontext format="html"><text>ភ្នំពេញជារាជធានី។</text></questiontext>
    <answer fraction="100"><text>true</text></answer>
    <answer fraction="0"><text>false</text></answer>
  </question>
  <question type="numerical">
    <questiontext format="html"><text>How many days in a week?</text></questiontext>
    <answer fraction="100"><text>7</text><tolerance>0</tolerance></answer>
  </question>
  <question type="shortanswer">
    <questiontext format="html"><text>ពណ៌នៃមេឃ?</text></questiontext>
    <answer fraction="100"><text>ខៀវ</text></answer>
  </question>
  <question type="matching">
    <questiontext format="html"><text>ផ្គូផ្គង</text></questiontext>
    <subquestion format="html"><text>ឆ្មា</text><answer><text>សត្វ</text></answer></subquestion>
    <subquestion format="html"><text>បាយ</text><answer><text>អាហារ</text></answer></subquestion>
  </question>
  <question type="ordering">
    <questiontext format="html"><text>រៀបលំដាប់</text></questiontext>
    <answer fraction="1"><text>មួយ</text></answer>
    <answer fraction="2"><text>ពីរ</text></answer>
    <answer fraction="3"><text>បី</text></answer>
  </question>
  <question type="essay">
    <questiontext format="html"><text>សរសេរអំពីការអាន</text></questiontext>
  </question>
  <question type="calculated">
    <name><text>calc</text></name>
    <questiontext format="html"><text>{a} + {b}?</text></questiontext>
  </question>
</quiz>
"""


def _manifest(zip_path: Path) -> dict:
    with zipfile.ZipFile(zip_path) as zf:
        return json.loads(zf.read("manifest.json"))


def _questions(zip_path: Path) -> list[dict]:
    manifest = _manifest(zip_path)
    items = [i for c in manifest["courses"] for m in c["modules"] for i in m["items"]]
    return [q for i in items for q in i["quiz"]["questions"]]


def test_the_moodle_gift_sample_imports_with_a_report_of_what_was_left(tmp_path):
    report = import_file(QUIZ_FORMATS / "gift/moodle_questions.gift.txt", tmp_path / "p.zip")
    types = [q["type"] for q in _questions(tmp_path / "p.zip")]
    assert types == [
        "essay",
        "matching",
        "single",
        "multiple",
        "numeric",
        "short_text",
        "true_false",
        "true_false",
        "true_false",
    ]
    assert report.format == "GIFT"
    assert ("question 2 (Moodle activities): answer 'Chat'") in [w for w, _ in report.skipped]


def test_gift_categories_become_quizzes_and_html_is_made_plain(tmp_path):
    import_file(QUIZ_FORMATS / "gift/moodle_questions_in_category.gift.txt", tmp_path / "p.zip")
    manifest = _manifest(tmp_path / "p.zip")
    quiz_item = manifest["courses"][0]["modules"][0]["items"][0]
    assert quiz_item["slug"] == "default-for-new-features"
    greeting = quiz_item["quiz"]["questions"][1]
    assert greeting["prompt_en"].startswith("Listen to this greeting:")
    assert "<" not in greeting["prompt_en"]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
def test_khmer_gift_survives_with_and_without_bom(tmp_path, bom):
    src = tmp_path / "ការអាន.gift"
    src.write_bytes(bom + GIFT_KM.encode("utf-8"))
    import_file(src, tmp_path / "p.zip")
    manifest = _manifest(tmp_path / "p.zip")
    item = manifest["courses"][0]["modules"][0]["items"][0]
    assert item["title"]["km"] == "ការអាន"
    questions = item["quiz"]["questions"]
    assert questions[0]["prompt_km"] == "តើគ្រូគួរអានឮៗរៀងរាល់ថ្ងៃទេ?"
    assert questions[0]["choices"][0]["text_km"] == "បាទ/ចាស"
    assert questions[0]["feedback_correct_km"] == "ត្រឹមត្រូវ"
    assert questions[1]["pairs"][1] == {"id": "p2", "text_km": "បាយ", "match_km": "អាហារ"}
    assert [q["type"] for q in questions] == ["single", "matching", "essay", "true_false"]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
def test_khmer_aiken_survives(tmp_path, bom):
    src = tmp_path / "capital.txt"
    src.write_bytes(bom + AIKEN_KM.encode("utf-8"))
    import_file(src, tmp_path / "p.zip")
    (q,) = _questions(tmp_path / "p.zip")
    assert q["prompt_km"] == "តើរាជធានីនៃកម្ពុជាគឺជាអ្វី?"
    assert q["answer"] == "a" and q["choices"][0]["text_km"] == "ភ្នំពេញ"


def test_aiken_samples_import_the_good_questions_and_report_the_broken(tmp_path):
    report = import_file(QUIZ_FORMATS / "aiken/moodle_aiken_errors.txt", tmp_path / "p.zip")
    assert [q["prompt_en"] for q in _questions(tmp_path / "p.zip")] == ["A good question"]
    reasons = [why for _, why in report.skipped]
    assert "fewer than two options" in reasons and "no ANSWER: line after its options" in reasons
    import_file(QUIZ_FORMATS / "aiken/moodle_questions.aiken.txt", tmp_path / "q.zip")
    second = _questions(tmp_path / "q.zip")[1]
    assert second["prompt_en"].endswith('<html class="cool"> & images:')  # kept as text


def test_moodle_xml_maps_every_common_type_and_reports_the_rest(tmp_path):
    src = tmp_path / "bank.xml"
    src.write_text(MOODLE_XML_KM, encoding="utf-8")
    report = import_file(src, tmp_path / "p.zip")
    questions = _questions(tmp_path / "p.zip")
    assert [q["type"] for q in questions] == [
        "single",
        "true_false",
        "numeric",
        "short_text",
        "matching",
        "ordering",
        "essay",
    ]
    assert questions[0]["prompt_km"] == "២ + ២ = ?"
    assert _manifest(tmp_path / "p.zip")["courses"][0]["modules"][0]["items"][0]["slug"]
    assert report.skipped == [("question 9 (calc)", "question type calculated is not supported")]


def test_a_qti_item_imports_and_qti_tests_are_refused_with_their_reason(tmp_path):
    import_file(QUIZ_FORMATS / "qti21/pyslet_basic/q1.xml", tmp_path / "p.zip")
    (q,) = _questions(tmp_path / "p.zip")
    assert q["type"] == "single" and q["answer"] == "c3"
    assert q["prompt_en"] == "Who won the 2012 Tour de France?"
    with pytest.raises(BrokenFile, match="selects 2 items but requires 3"):
        import_file(QUIZ_FORMATS / "qti21/pyslet_errors/required.xml", tmp_path / "x.zip")
    with pytest.raises(BrokenFile, match="selects 5 of only 4 items"):
        import_file(QUIZ_FORMATS / "qti21/pyslet_errors/select.xml", tmp_path / "x.zip")
    with pytest.raises(BrokenFile, match="assessmentTest"):
        import_file(QUIZ_FORMATS / "qti21/pyslet_errors/fixed.xml", tmp_path / "x.zip")
    with pytest.raises(BrokenFile, match="no interaction Kru can grade"):
        import_file(QUIZ_FORMATS / "qti21/pyslet_basic/q0.xml", tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_a_qti_content_package_imports_its_items(tmp_path):
    manifest = (
        '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><resources>'
        '<resource identifier="r1" type="imsqti_item_xmlv2p1" href="q1.xml"/>'
        '<resource identifier="r2" type="imsqti_item_xmlv2p1" href="q2.xml"/>'
        "</resources></manifest>"
    )
    src = tmp_path / "bank.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("imsmanifest.xml", manifest)
        for name in ("q1.xml", "q2.xml"):
            zf.write(QUIZ_FORMATS / "qti21/pyslet_basic" / name, name)
    report = import_file(src, tmp_path / "p.zip")
    assert report.format == "QTI 2.1 package"
    assert len(_questions(tmp_path / "p.zip")) == 2


def test_html_and_scripts_in_questions_become_plain_text(tmp_path):
    src = tmp_path / "x.gift"
    src.write_text("Q <script>fetch('/api/v1/me')</script> 1?{=a ~b}\n", encoding="utf-8")
    (q,) = (import_file(src, tmp_path / "p.zip"), _questions(tmp_path / "p.zip"))[1]
    assert "script" not in json.dumps(q) and q["prompt_en"] == "Q 1?"


@pytest.mark.parametrize(
    ("name", "data", "error", "words"),
    [
        ("corrupt.h5p", b"TEST", UnknownFormat, "not a format Kru can import"),
        ("notes.txt", "ឯកសារធម្មតា គ្មានសំណួរ\n".encode(), UnknownFormat, "not a format"),
        ("latin1.gift", "Qu'est-ce que c'est? {=café ~thé}".encode("latin-1"), BrokenFile, "UTF-8"),
        ("bad.xml", b"<quiz><question></quiz>", BrokenFile, "not well-formed XML"),
        ("lol.xml", b'<!DOCTYPE q [<!ENTITY a "aaaa">]><quiz>&a;</quiz>', BrokenFile, "entities"),
        ("none.gift", b"// only a comment\nJust text {\n", UnknownFormat, "not a format"),
    ],
)
def test_broken_or_unknown_files_are_refused_and_nothing_is_written(
    tmp_path, name, data, error, words
):
    src = tmp_path / name
    src.write_bytes(data)
    with pytest.raises(error, match=words):
        import_file(src, tmp_path / "p.zip")
    assert list(tmp_path.iterdir()) == [src]


def _zip_with(tmp_path: Path, entries: list[tuple[str, bytes]]) -> Path:
    src = tmp_path / "hostile.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    src.write_bytes(buf.getvalue())
    return src


def test_a_zip_slip_package_is_refused(tmp_path):
    src = _zip_with(tmp_path, [("imsmanifest.xml", b"<manifest/>"), ("../../evil.js", b"x")])
    with pytest.raises(InvalidPack) as err:
        import_file(src, tmp_path / "p.zip")
    assert err.value.code == "zip_unsafe_path"
    assert not (tmp_path / "p.zip").exists()


def test_a_zip_bomb_is_refused_before_extraction(tmp_path):
    bomb = b"\0" * (64 * 1024 * 1024)  # deflates to ~64 KB
    src = _zip_with(tmp_path, [("h5p.json", b"{}"), ("content/big.bin", bomb)])
    with pytest.raises(InvalidPack) as err:
        import_file(src, tmp_path / "p.zip")
    assert err.value.code == "zip_bomb"


def test_the_cli_writes_the_pack_and_prints_the_report(runner, tmp_path):
    out = tmp_path / "bank.zip"
    src = QUIZ_FORMATS / "gift/moodle_questions.gift.txt"
    result = runner("pack", "import", str(src), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "GIFT -> moodle-questions 0." in result.stdout
    assert "not converted: question 2 (Moodle activities)" in result.stdout
    assert runner("pack", "validate", str(out)).exit_code == 0


def test_the_cli_refuses_a_broken_file_in_one_line(runner, tmp_path):
    src = TESTDATA / "h5p/invalid/lumi_broken-h5p-json.h5p"
    result = runner("pack", "import", str(src), "-o", str(tmp_path / "x.zip"))
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "h5p.json is not valid JSON" in result.stderr


def test_the_same_file_gives_the_same_id_and_version(tmp_path):
    src = tmp_path / "bank.txt"
    src.write_bytes(AIKEN_KM.encode())
    first = import_file(src, tmp_path / "a.zip")
    second = import_file(src, tmp_path / "b.zip")
    assert (first.pack_id, first.version) == (second.pack_id, second.version)


def test_a_newer_copy_upgrades_the_pack_and_keeps_progress(
    app, client, login_as, make_cohort, tmp_path
):
    src = tmp_path / "bank.txt"
    src.write_bytes(AIKEN_KM.encode())
    os.utime(src, (1_700_000_000, 1_700_000_000))
    first = import_file(src, tmp_path / "v1.zip")
    install(app, tmp_path / "v1.zip")
    user = login_as("learner")
    assignments.assign(make_cohort(learners=[user]), f"{first.pack_id}/course", None, None)
    key = f"{first.pack_id}/bank"
    response = post_events(client, [ev("attempted", key, {"response": {"q1": "a"}})])
    assert response.status_code == 200, response.get_json()

    src.write_bytes((AIKEN_KM + "\nតើថ្ងៃនេះថ្ងៃអ្វី?\nA) ច័ន្ទ\nB) អង្គារ\nANSWER: B\n").encode())
    os.utime(src, (1_700_086_400, 1_700_086_400))  # a day later
    second = import_file(src, tmp_path / "v2.zip")
    result = install(app, tmp_path / "v2.zip")

    assert second.pack_id == first.pack_id
    assert result.upgraded_from == first.version
    row = Progress.get(Progress.item == key, Progress.user_id == user.id)
    assert row.status == "passed" and row.attempts == 1
    assert len(quizzes.definition(result_quiz(key))["questions"]) == 2


def result_quiz(key: str) -> dict:
    from content_packs.models import Item

    return Item.get(Item.key == key).payload["quiz"]


def _upload(client, data: bytes, name: str):
    from tests.conftest import api_headers

    return client.post(
        "/api/v1/packs",
        data={"file": (io.BytesIO(data), name)},
        headers=api_headers(client),
        content_type="multipart/form-data",
    )


def test_the_web_upload_takes_a_question_file_and_reports_the_import(app, client, login_as):
    login_as("instructor")
    data = (QUIZ_FORMATS / "gift/moodle_questions.gift.txt").read_bytes()
    response = _upload(client, data, "moodle_questions.gift.txt")
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["pack"]["id"] == "moodle-questions"
    assert body["import"]["format"] == "GIFT"
    assert (
        body["import"]["not_converted"][0]["why"] == "a matching answer without a pair is dropped"
    )


def test_the_web_upload_refuses_a_broken_h5p_by_name(app, client, login_as):
    from content_packs.models import Pack
    from tests.conftest import assert_api_error

    login_as("instructor")
    data = (TESTDATA / "h5p/invalid/lumi_missing-preloaded-js.h5p").read_bytes()
    response = _upload(client, data, "x.h5p")
    error = assert_api_error(response, 400, "import_broken_file")
    assert "H5P.GreetingCard-1.0/greetingcard.js" in error["message"]
    assert Pack.select().count() == 0


def test_the_upload_page_offers_the_import_formats_in_khmer(app, client, login_as):
    login_as("instructor")
    html = client.get("/packs/upload").get_data(as_text=True)
    assert 'accept=".zip,application/zip,.h5p,.imscc,.mbz,.gift,.txt,.xml"' in html
    assert "SCORM, Common Cartridge, ឯកសារបម្រុងទុកវគ្គសិក្សា Moodle (.mbz)" in html
    assert "Kru នឹងបង្កើតកញ្ចប់ពីឯកសារទាំងនោះ" in html
