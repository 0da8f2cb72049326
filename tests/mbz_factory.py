"""Small Moodle course backups (.mbz) made for the tests of issue 18 item 5.

No small Moodle backup with a free licence was found (shared/testdata/moodle-mbz holds two
narrow GPL fixtures: a StudentQuiz activity and question versions). These are written here
by hand, element by element, after the Moodle 4.5 backup in
shared/testdata/moodle-mbz/backup-moodle45-has-multiple-versions-disapproved.mbz
(moodle_backup.xml, sections/*/section.xml, questions.xml with question bank entries) and
Moodle's backup format (activities/<mod>_<id>/<mod>.xml, inforef.xml, files.xml and
files/<2 hex>/<contenthash>); ``questionid`` slots are the Moodle 3.x form. Only the
elements Kru reads are written.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
KHMER_PAGE = "<h2>ការរៀបចំថ្នាក់</h2><p>គ្រូត្រូវរៀបចំមេរៀនជាមុន។</p>"


def _activity(mod: str, mid: int, section: int, title: str) -> str:
    return (
        f"<activity><moduleid>{mid}</moduleid><sectionid>{section}</sectionid>"
        f"<modulename>{mod}</modulename><title>{escape(title)}</title>"
        f"<directory>activities/{mod}_{mid}</directory></activity>"
    )


def _section(sid: int, number: int, name: str, sequence: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<section id="{sid}"><number>{number}</number>'
        f"<name>{escape(name) if name else '$@NULL@$'}</name><summary></summary>"
        f"<sequence>{sequence}</sequence></section>"
    )


def _module(mod: str, mid: int, body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<activity id="{mid}" moduleid="{mid}" modulename="{mod}">'
        f'<{mod} id="{mid}">{body}</{mod}></activity>'
    )


def _answers(rows: list[tuple[str, float]]) -> str:
    return "".join(
        f'<answer id="{900 + n}"><answertext>{escape(text)}</answertext>'
        f"<fraction>{fraction:.7f}</fraction></answer>"
        for n, (text, fraction) in enumerate(rows)
    )


def _question(qid: int, qtype: str, text: str, plugin: str) -> str:
    return (
        f'<question id="{qid}"><parent>0</parent><name>q{qid}</name>'
        f"<questiontext>{escape(text)}</questiontext><qtype>{qtype}</qtype>"
        f"<plugin_qtype_{qtype}_question>{plugin}</plugin_qtype_{qtype}_question></question>"
    )


QUESTIONS = [
    (
        "multichoice",
        "<p>តើសិស្សរៀនល្អបំផុតពេលណា?</p>",
        "<answers>"
        + _answers([("ពេលលេង", 0.0), ("ពេលចូលរួម", 1.0), ("ពេលស្ងាត់", 0.0)])
        + "</answers><multichoice><single>1</single></multichoice>",
    ),
    (
        "truefalse",
        "<p>Feedback helps learners.</p>",
        "<answers>" + _answers([("True", 1.0), ("False", 0.0)]) + "</answers>",
    ),
    (
        "shortanswer",
        "Capital of Cambodia?",
        "<answers>" + _answers([("Phnom Penh", 1.0)]) + "</answers>",
    ),
    (
        "essay",
        "<p>សរសេរអំពីថ្នាក់របស់អ្នក។</p>",
        "<essay><responseformat>editor</responseformat></essay>",
    ),
    (
        "match",
        "Match the words.",
        "<matches><match><questiontext>cat</questiontext><answertext>ឆ្មា</answertext></match>"
        "<match><questiontext>dog</questiontext><answertext>ឆ្កែ</answertext></match></matches>",
    ),
    ("calculated", "2 + {x} = ?", ""),
]


def _version(vid: int, number: int, question: str) -> str:
    return (
        f'<question_versions id="{vid}"><version>{number}</version>'
        f"<questions>{question}</questions></question_versions>"
    )


def _questions_xml(versions: bool) -> str:
    if not versions:  # Moodle 3.x: questions straight in the category
        body = "".join(_question(100 + n, *q) for n, q in enumerate(QUESTIONS))
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<question_categories>'
            f'<question_category id="1"><name>Default</name><questions>{body}</questions>'
            "</question_category></question_categories>"
        )
    entries = []
    for n, q in enumerate(QUESTIONS):
        old = _question(200 + n, "truefalse", "old version", "") if n == 0 else ""
        entries.append(
            f'<question_bank_entry id="{300 + n}"><question_version>'
            + (_version(400 + n, 1, old) if old else "")
            + _version(500 + n, 2, _question(100 + n, *q))
            + "</question_version></question_bank_entry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<question_categories><question_category id="1">'
        f"<name>Default</name><question_bank_entries>{''.join(entries)}</question_bank_entries>"
        "</question_category></question_categories>"
    )


def _slots(versions: bool) -> str:
    out = []
    for n in range(len(QUESTIONS)):
        ref = (
            f"<question_reference><questionbankentryid>{300 + n}</questionbankentryid>"
            "<version>$@NULL@$</version></question_reference>"
            if versions
            else f"<questionid>{100 + n}</questionid>"
        )
        out.append(f'<question_instance id="{n}"><slot>{n + 1}</slot>{ref}</question_instance>')
    out.append(  # a random question: no question of its own in the backup
        '<question_instance id="99"><slot>99</slot><question_set_reference/></question_instance>'
    )
    return "<question_instances>" + "".join(out) + "</question_instances>"


def members(versions: bool = True) -> dict[str, bytes]:
    """Return the files of a small course: two sections, six activities, one PDF."""
    pdf_hash = hashlib.sha1(PDF).hexdigest()
    backup = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<moodle_backup><information>'
        "<name>backup-moodle2-course-7-tec.mbz</name><moodle_release>4.5.5</moodle_release>"
        "<original_wwwroot>https://moodle.example.edu.kh</original_wwwroot>"
        "<original_course_id>7</original_course_id>"
        "<original_course_fullname>វគ្គបណ្តុះបណ្តាលគ្រូ</original_course_fullname>"
        "<contents><activities>"
        + _activity("label", 11, 1, "Welcome")
        + _activity("page", 12, 1, "Preparing a class")
        + _activity("resource", 13, 2, "Lesson plan (PDF)")
        + _activity("url", 14, 2, "Ministry site")
        + _activity("quiz", 15, 2, "Check your understanding")
        + _activity("forum", 16, 2, "Questions for the trainer")
        + "</activities><sections>"
        "<section><sectionid>1</sectionid><title>0</title>"
        "<directory>sections/section_1</directory></section>"
        "<section><sectionid>2</sectionid><title>Week 1</title>"
        "<directory>sections/section_2</directory></section>"
        "</sections><course><courseid>7</courseid><title>វគ្គបណ្តុះបណ្តាលគ្រូ</title>"
        "<directory>course</directory></course></contents></information></moodle_backup>"
    )
    files = {
        "moodle_backup.xml": backup,
        "sections/section_1/section.xml": _section(1, 0, "", "11,12"),
        "sections/section_2/section.xml": _section(2, 1, "សប្តាហ៍ទី១", "14,13,15,16"),
        "activities/label_11/label.xml": _module(
            "label", 11, "<name>Welcome</name><intro>&lt;p&gt;សូមស្វាគមន៍!&lt;/p&gt;</intro>"
        ),
        "activities/page_12/page.xml": _module(
            "page",
            12,
            f"<name>ការរៀបចំថ្នាក់</name><intro></intro><content>{escape(KHMER_PAGE)}</content>",
        ),
        "activities/resource_13/resource.xml": _module(
            "resource", 13, "<name>Lesson plan (PDF)</name><intro></intro>"
        ),
        "activities/resource_13/inforef.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<inforef><fileref><file><id>5</id></file></fileref></inforef>"
        ),
        "activities/url_14/url.xml": _module(
            "url",
            14,
            "<name>Ministry site</name><intro></intro>"
            "<externalurl>https://www.moeys.gov.kh/</externalurl>",
        ),
        "activities/quiz_15/quiz.xml": _module(
            "quiz", 15, f"<name>Check your understanding</name><intro></intro>{_slots(versions)}"
        ),
        "activities/forum_16/forum.xml": _module(
            "forum", 16, "<name>Questions for the trainer</name>"
        ),
        "questions.xml": _questions_xml(versions),
        "files.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>\n<files><file id="5">'
            f"<contenthash>{pdf_hash}</contenthash><component>mod_resource</component>"
            "<filearea>content</filearea><filename>lesson-plan.pdf</filename>"
            "<sortorder>1</sortorder></file></files>"
        ),
    }
    out = {name: text.encode("utf-8") for name, text in files.items()}
    out[f"files/{pdf_hash[:2]}/{pdf_hash}"] = PDF
    return out


def write_mbz(path: Path, files: dict[str, bytes] | None = None, as_zip: bool = False) -> Path:
    """Write a backup as Moodle does (tar.gz; ``as_zip`` for Moodle 2.0-2.5)."""
    files = members() if files is None else files
    if as_zip:
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
        return path
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
