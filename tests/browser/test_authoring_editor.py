"""Journey 4 (issue 17): an instructor makes a Khmer course in the browser editor.

The editor runs in Debian's Chromium against a real ``kru serve``, in Khmer, on a laptop
(1280x800) and on a phone (360x740): build, preview, publish, assign, a learner finishes it;
typing survives a network cut; two editors of one draft are told about each other.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.harness import PHONE, km, sign_in

LAPTOP = {"width": 1280, "height": 800}
SIZES = {"laptop": LAPTOP, "phone": PHONE}


def real_png(path: Path, width: int = 1000, height: int = 800) -> Path:
    """Write a real PNG of random pixels (about 2.4 MB: random bytes do not compress)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )
    return path


def new_context(browser, site, size: str):
    context = browser.new_context(viewport=SIZES[size], base_url=site.url)
    context.set_default_timeout(15_000)
    return context


def create_draft(page, title_km: str, title_en: str) -> str:
    """Create a course draft from "Make a course"; return the draft's id."""
    page.goto("/authoring/")
    assert page.locator("h1").inner_text() == km("Make a course")
    page.get_by_label(km("Title in Khmer")).fill(title_km)
    page.get_by_label(km("Title in English")).fill(title_en)
    with page.expect_navigation():
        page.get_by_role("button", name=km("Create the draft")).click()
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def wait_saved(page) -> None:
    expect(page.locator("#save-state")).to_have_text(km("Saved"))
    page.wait_for_function(
        "(id) => (localStorage.getItem('kru-draft-' + id) || '{}') === '{}'",
        arg=page.url.rstrip("/").rsplit("/", 1)[-1],
    )


def server_draft(page, draft_id: str) -> dict:
    return page.evaluate(
        "async (id) => (await fetch('/api/v1/authoring/courses/' + id)).json()", draft_id
    )


def server_items(page, draft_id: str) -> list[dict]:
    draft = server_draft(page, draft_id)
    return [item for module in draft["modules"] for item in module["items"]]


def add_lesson(page, title: str, body: str) -> None:
    before = page.locator("#tree [data-item]").count()
    page.get_by_role("button", name="+ " + km("Lesson")).click()
    expect(page.locator("#tree [data-item]")).to_have_count(before + 1)
    expect(page.locator("#tree [data-item]").last).to_have_class("item selected")
    expect(page.locator("#lesson-editor")).to_be_visible()
    page.get_by_label(km("Title in Khmer")).fill(title)
    page.locator("#body-md").click()
    page.keyboard.type(body)


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_instructor_builds_publishes_and_a_learner_finishes_the_course(
    browser, site, tmp_path, size
):
    image = real_png(tmp_path / "រូបថ្នាក់.png")
    teacher = new_context(browser, site, size)
    page = teacher.new_page()
    sign_in(page, "instructor")
    assert page.locator("html").get_attribute("lang") == "km"
    draft_id = create_draft(page, f"ការអានឮៗ {size}", f"Reading aloud {size}")

    # 1. A lesson with Khmer text and an uploaded image, shown in the live preview.
    add_lesson(page, "មេរៀនទី១", "អានរឿងឱ្យសិស្សស្តាប់រាល់ថ្ងៃ។\n")
    page.locator("#lesson-image").set_input_files(str(image))
    expect(page.locator("#lesson-preview img")).to_have_count(1, timeout=30_000)
    expect(page.locator("#lesson-preview")).to_contain_text("អានរឿងឱ្យសិស្សស្តាប់")
    expect(page.locator("#lesson-preview img")).to_have_js_property("naturalWidth", 1000)
    assert page.locator("#upload-progress").evaluate("bar => bar.value") == 100  # progress shown
    assert page.locator("#upload-percent").inner_text() == km(
        "Sending the file: %(percent)s%%",
        percent="១០០",  # Khmer digits (issue 14 item 17)
    )

    # 2. An image item, uploaded, with a Khmer description.
    page.get_by_role("button", name="+ " + km("Image")).click()  # opens the file chooser
    page.locator("#image-file").set_input_files(str(image))
    expect(page.locator("#image-editor")).to_be_visible(timeout=30_000)
    expect(page.locator("#image-shown")).to_have_js_property("naturalWidth", 1000)
    page.get_by_label(km("Description for people who cannot see it (Khmer)")).fill("សិស្សអង្គុយជារង្វង់")

    # 3. A quiz: one question with two choices; the second is the right one.
    page.get_by_role("button", name="+ " + km("Quiz")).click()
    expect(page.locator("#quiz-editor")).to_be_visible()
    question = page.locator("#questions > li").first
    question.get_by_label(km("Question (Khmer)")).fill("តើគួរអានរឿងប៉ុន្មានដងក្នុងមួយសប្តាហ៍?")
    choices = question.get_by_label(km("Choice (Khmer)"))
    choices.nth(0).fill("ម្តង")
    choices.nth(1).fill("រាល់ថ្ងៃ")
    question.get_by_label(km("Correct")).nth(1).check()
    question.get_by_label(km("Feedback when this choice is picked")).nth(1).fill(
        "ល្អណាស់៖ ការអានរាល់ថ្ងៃបង្កើតទម្លាប់។"
    )
    wait_saved(page)

    items = server_items(page, draft_id)
    assert [i["type"] for i in items] == ["lesson", "image", "quiz"]
    assert items[1]["alt"]["km"] == "សិស្សអង្គុយជារង្វង់"
    quiz = items[2]["quiz"]["questions"][0]
    assert [c["text_km"] for c in quiz["choices"]] == ["ម្តង", "រាល់ថ្ងៃ"]
    assert quiz["answer"] == quiz["choices"][1]["id"]
    assert quiz["choices"][1]["feedback_km"] == "ល្អណាស់៖ ការអានរាល់ថ្ងៃបង្កើតទម្លាប់។"

    # Reorder by button (keyboard and touch): the quiz moves up and back down.
    quiz_row = page.locator("#tree [data-item]").nth(2)
    quiz_row.get_by_role("button", name=km("Move up")).click()
    expect(page.locator("#tree [data-item]").nth(1)).to_contain_text(f"[{km('Quiz')}]")
    page.keyboard.press("Enter")  # focus stays on the button just pressed; Enter moves it again
    expect(page.locator("#tree [data-item]").nth(0)).to_contain_text(f"[{km('Quiz')}]")
    page.locator("#tree [data-item]").nth(0).get_by_role("button", name=km("Move down")).click()
    page.locator("#tree [data-item]").nth(1).get_by_role("button", name=km("Move down")).click()
    expect(page.locator("#tree [data-item]").nth(2)).to_contain_text(f"[{km('Quiz')}]")
    wait_saved(page)
    assert [i["type"] for i in server_items(page, draft_id)] == ["lesson", "image", "quiz"]

    # Preview as learner, then back to the editor.
    with page.expect_navigation():
        page.get_by_role("link", name=km("Preview as learner")).click()
    expect(page.locator("article.preview-item")).to_have_count(3)
    assert page.locator("article.preview-item img").count() == 2
    assert "រាល់ថ្ងៃ" in page.locator("article.preview-item").nth(2).inner_text()
    with page.expect_navigation():
        page.get_by_role("link", name=km("Back to the editor")).click()

    # Publish, then assign to the demo cohort.
    page.get_by_role("button", name=km("Publish")).click()
    expect(page.locator("#publish-result")).to_contain_text("+", timeout=60_000)
    pack_id = server_draft(page, draft_id)["pack_id"]
    page.goto("/teach/")
    with page.expect_navigation():
        page.locator("main h2 a").first.click()
    page.select_option("#assign-course", f"{pack_id}/{pack_id}")
    with page.expect_navigation():
        page.get_by_role("button", name=km("Assign"), exact=True).click()
    assert page.locator(".flash.success").inner_text() == km("The course is assigned.")
    teacher.close()

    # A learner on a phone works through the three items.
    learner = new_context(browser, site, "phone")
    page = learner.new_page()
    sign_in(page, "learner2" if size == "laptop" else "learner3")
    card = page.locator(".course-card", has_text=f"ការអានឮៗ {size}")
    with page.expect_navigation():
        card.locator("a").first.click()
    with page.expect_navigation():
        page.locator("ul.items a").first.click()
    assert page.locator("#item").get_attribute("data-type") == "lesson"
    assert "អានរឿងឱ្យសិស្សស្តាប់" in page.locator(".lesson").inner_text()
    expect(page.locator(".lesson img")).to_have_js_property("naturalWidth", 1000)
    page.locator("#mark-done").click()
    page.wait_for_function("() => KruEvents.pending() === 0")
    with page.expect_navigation():
        page.locator("#next").click()
    assert page.locator("#item").get_attribute("data-type") == "image"
    assert page.locator("img.figure").get_attribute("alt") == "សិស្សអង្គុយជារង្វង់"
    expect(page.locator("img.figure")).to_have_js_property("naturalWidth", 1000)
    page.locator("#mark-done[hidden]").wait_for(state="attached")  # an image counts once seen
    page.wait_for_function("() => KruEvents.pending() === 0")
    with page.expect_navigation():
        page.locator("#next").click()
    assert page.locator("#item").get_attribute("data-type") == "quiz"
    page.get_by_label("រាល់ថ្ងៃ").check()
    with page.expect_navigation():
        page.get_by_role("button", name=km("Submit answers")).click()
    assert page.locator(".result .badge").inner_text() == km("Passed")
    assert page.locator(".feedback").inner_text() == "ល្អណាស់៖ ការអានរាល់ថ្ងៃបង្កើតទម្លាប់។"
    page.goto("/learn/")
    card = page.locator(".course-card", has_text=f"ការអានឮៗ {size}")
    assert card.locator("[role=progressbar]").get_attribute("aria-valuenow") == "100"
    learner.close()


def open_item(page, draft_id: str, n: int = 0) -> None:
    page.goto(f"/authoring/{draft_id}")
    page.locator("#tree [data-item] .pick").nth(n).click()
    expect(page.locator("#item-editor")).to_be_visible()


def kept_in_browser(page, draft_id: str) -> dict:
    return json.loads(page.evaluate("(id) => localStorage.getItem('kru-draft-' + id)", draft_id))


def test_typing_survives_a_network_cut_and_reaches_the_server_once_back(browser, site):
    context = new_context(browser, site, "phone")
    page = context.new_page()
    sign_in(page, "instructor")
    draft_id = create_draft(page, "ការសរសេរ", "Writing")
    add_lesson(page, "មេរៀនសរសេរ", "ប្រយោគទីមួយ។ ")
    wait_saved(page)
    lesson_id = server_items(page, draft_id)[0]["id"]

    context.set_offline(True)
    page.keyboard.type("ប្រយោគទីពីរ ដែលវាយពេលគ្មានអ៊ីនធឺណិត។")
    expected = "ប្រយោគទីមួយ។ ប្រយោគទីពីរ ដែលវាយពេលគ្មានអ៊ីនធឺណិត។"
    expect(page.locator("#save-state")).to_have_text(
        km("Not saved yet: kept in this browser until the server answers")
    )
    page.wait_for_timeout(1500)  # past the autosave delay: the save is tried and fails
    assert kept_in_browser(page, draft_id)[lesson_id]["body_md"] == expected
    context.set_offline(False)  # the browser's "online" event sends what was kept
    wait_saved(page)
    assert server_items(page, draft_id)[0]["body_md"] == expected

    # Typing kept while the page was closed offline goes on the next visit.
    context.set_offline(True)
    page.keyboard.type(" ទីបី។")
    page.wait_for_timeout(1500)
    assert kept_in_browser(page, draft_id)[lesson_id]["body_md"] == expected + " ទីបី។"
    page.close()
    context.set_offline(False)
    page = context.new_page()
    page.goto(f"/authoring/{draft_id}")
    wait_saved(page)
    assert server_items(page, draft_id)[0]["body_md"] == expected + " ទីបី។"
    context.close()


def test_two_editors_are_warned_and_the_second_sees_their_unsaved_text(browser, site):
    first_context = new_context(browser, site, "laptop")
    second_context = new_context(browser, site, "phone")
    first, second = first_context.new_page(), second_context.new_page()
    sign_in(first, "instructor")
    sign_in(second, "admin")
    if second.locator("html").get_attribute("lang") != "km":
        with second.expect_navigation():
            second.locator("header button[name=lang][value=km]").click()
    draft_id = create_draft(first, "ការស្តាប់", "Listening")
    add_lesson(first, "មេរៀនស្តាប់", "អត្ថបទដើម។")
    wait_saved(first)
    open_item(second, draft_id)
    expect(second.locator("#body-md")).to_have_value("អត្ថបទដើម។")

    first.locator("#body-md").fill("អត្ថបទរបស់អ្នកទីមួយ។")
    wait_saved(first)
    second.locator("#body-md").fill("អត្ថបទរបស់អ្នកទីពីរ ដែលមិនទាន់រក្សាទុក។")
    expect(second.locator("#conflict")).to_be_visible()
    assert (
        km(
            "Someone else changed this draft since you opened it. Your text is kept in this "
            "browser; reload to see their changes."
        )
        + " (instructor)"
        == second.locator("#conflict-text").inner_text()
    )
    assert server_items(first, draft_id)[0]["body_md"] == "អត្ថបទរបស់អ្នកទីមួយ។"  # not overwritten

    second.get_by_role("button", name=km("Reload the draft")).click()
    expect(second.locator("#conflict")).to_be_hidden()
    expect(second.locator("#body-md")).to_have_value("អត្ថបទរបស់អ្នកទីមួយ។")
    expect(second.locator("#unsaved")).to_be_visible()
    expect(second.locator("#unsaved textarea")).to_have_value("អត្ថបទរបស់អ្នកទីពីរ ដែលមិនទាន់រក្សាទុក។")
    second.reload()  # the unsaved text stays on show until the editor decides
    expect(second.locator("#unsaved textarea")).to_have_value("អត្ថបទរបស់អ្នកទីពីរ ដែលមិនទាន់រក្សាទុក។")
    second.locator("#tree [data-item] .pick").first.click()
    second.get_by_role("button", name=km("Save my text over theirs")).click()
    expect(second.locator("#unsaved")).to_be_hidden()
    wait_saved(second)
    assert server_items(second, draft_id)[0]["body_md"] == ("អត្ថបទរបស់អ្នកទីពីរ ដែលមិនទាន់រក្សាទុក។")
    expect(second.locator("#body-md")).to_have_value("អត្ថបទរបស់អ្នកទីពីរ ដែលមិនទាន់រក្សាទុក។")
    first_context.close()
    second_context.close()


VTT_KM = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nសួស្តី សិស្សទាំងអស់គ្នា\n\n"
    "00:00:03.000 --> 00:00:06.000\nថ្ងៃនេះយើងអានរឿង\n"
)


@pytest.fixture(scope="module")
def classroom_video(tmp_path_factory) -> Path:
    from tests.test_authoring_media_live import make_video

    return make_video(tmp_path_factory.mktemp("video") / "វីដេអូថ្នាក់.mp4")


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_a_video_goes_up_with_progress_and_gets_khmer_captions(
    browser, site, tmp_path, classroom_video, size
):
    assert classroom_video.stat().st_size > 20 * 1024 * 1024  # tens of MB, in 8 MB chunks
    context = new_context(browser, site, size)
    page = context.new_page()
    sign_in(page, "instructor")
    draft_id = create_draft(page, f"វីដេអូ {size}", f"Video {size}")
    page.get_by_role("button", name="+ " + km("Video")).click()
    page.locator("#video-file").set_input_files(str(classroom_video))
    expect(page.locator("#media-editor")).to_be_visible(timeout=120_000)
    assert page.locator("#upload-progress").evaluate("bar => bar.value") == 100
    expect(page.locator("#upload-percent")).to_have_text(
        km("Sending the file: %(percent)s%%", percent="១០០")
    )
    page.wait_for_function(
        "() => document.getElementById('video-shown').readyState >= 1", timeout=30_000
    )
    assert round(page.locator("#video-shown").evaluate("v => v.duration")) == 6

    vtt = tmp_path / "khmer.vtt"
    vtt.write_text(VTT_KM, encoding="utf-8")
    page.get_by_label(km("Language of the captions")).select_option("km")
    page.locator("#captions-file").set_input_files(str(vtt))
    expect(page.locator("#captions-list li")).to_have_count(1, timeout=30_000)
    wait_saved(page)
    video = server_items(page, draft_id)[0]
    assert video["type"] == "video"
    assert video["captions"] == [{"lang": "km", "label": "ខ្មែរ", "file": "media/khmer.vtt"}]
    assert page.locator("#video-shown track").count() == 1

    # A file that is not WebVTT is refused, in Khmer.
    (tmp_path / "bad.vtt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    page.locator("#captions-file").set_input_files(str(tmp_path / "bad.vtt"))
    expect(page.locator("#save-state")).to_have_text(
        km(
            "%(file)s is not WebVTT: a captions file starts with the word WEBVTT",
            file="bad.vtt",
        ),
        timeout=30_000,
    )

    with page.expect_navigation():
        page.get_by_role("link", name=km("Preview as learner")).click()
    shown = page.locator("article.preview-item video")
    expect(shown).to_have_count(1)
    assert shown.locator("track").get_attribute("srclang") == "km"
    page.wait_for_function(
        "() => document.querySelector('article video').readyState >= 1", timeout=30_000
    )
    context.close()


LESSON = f"[{km('Lesson')}] "  # the outline names each type in the page's language


def tree_titles(page) -> list[str]:
    return [t.strip() for t in page.locator("#tree [data-item] .pick").all_inner_texts()]


def test_items_are_reordered_by_dragging_with_a_mouse_and_a_finger(browser, site):
    context = new_context(browser, site, "laptop")
    page = context.new_page()
    sign_in(page, "instructor")
    draft_id = create_draft(page, "លំដាប់", "Order")
    for name in ("ក", "ខ", "គ"):
        add_lesson(page, name, name)
    wait_saved(page)
    assert tree_titles(page) == [LESSON + "ក", LESSON + "ខ", LESSON + "គ"]

    # A mouse drags the first lesson by its handle to below the last.
    handle = page.locator("#tree [data-item] .handle").first
    last = page.locator("#tree [data-item]").nth(2).bounding_box()
    handle.hover()
    page.mouse.down()
    page.mouse.move(last["x"] + 40, last["y"] + last["height"] * 0.8, steps=8)
    expect(page.locator("#tree .item.drop-after")).to_have_count(1)
    page.mouse.up()
    assert tree_titles(page) == [LESSON + "ខ", LESSON + "គ", LESSON + "ក"]
    wait_saved(page)
    assert [i["title"]["km"] for i in server_items(page, draft_id)] == ["ខ", "គ", "ក"]
    context.close()

    # A finger on a phone drags the last lesson back to the top.
    phone = browser.new_context(viewport=PHONE, base_url=site.url, has_touch=True, is_mobile=True)
    phone.set_default_timeout(15_000)
    page = phone.new_page()
    sign_in(page, "instructor")
    page.goto(f"/authoring/{draft_id}")
    expect(page.locator("#tree [data-item]")).to_have_count(3)
    source = page.locator("#tree [data-item] .handle").nth(2).bounding_box()
    first = page.locator("#tree [data-item]").first.bounding_box()
    start = (source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    end = (first["x"] + 40, first["y"] + first["height"] * 0.2)
    cdp = phone.new_cdp_session(page)

    def touch(kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", *start)
    for step in range(1, 9):
        touch(
            "touchMove",
            start[0] + (end[0] - start[0]) * step / 8,
            start[1] + (end[1] - start[1]) * step / 8,
        )
    touch("touchEnd", *end)
    expect(page.locator("#tree [data-item] .pick").first).to_have_text(LESSON + "ក")
    assert tree_titles(page) == [LESSON + "ក", LESSON + "ខ", LESSON + "គ"]
    wait_saved(page)
    assert [i["title"]["km"] for i in server_items(page, draft_id)] == ["ក", "ខ", "គ"]
    phone.close()


def test_an_assignment_with_a_rubric_is_made_in_the_editor_and_published(browser, site):
    context = new_context(browser, site, "phone")
    page = context.new_page()
    sign_in(page, "instructor")
    draft_id = create_draft(page, "ផែនការមេរៀន", "Lesson plan")
    page.get_by_role("button", name="+ " + km("Assignment")).click()
    expect(page.locator("#task-editor")).to_be_visible()
    page.get_by_label(km("What learners must do (Khmer, Markdown)")).fill(
        "ថតរូបផែនការមេរៀនអានរបស់អ្នក ហើយផ្ញើមក។"
    )
    page.get_by_label(km("Audio"), exact=True).check()
    page.get_by_label(km("Documents")).uncheck()
    criterion = page.locator("#rubric > li").first
    criterion.get_by_label(km("Criterion (Khmer)")).fill("គោលបំណងច្បាស់")
    criterion.get_by_label(km("Points")).first.fill("3")
    criterion.get_by_role("button", name=km("+ Level")).click()
    expect(page.locator("#rubric > li").first.get_by_label(km("Level (Khmer)"))).to_have_count(3)
    wait_saved(page)
    [task] = server_items(page, draft_id)
    assert task["type"] == "task"
    assert task["task"]["instructions"]["km"] == "ថតរូបផែនការមេរៀនអានរបស់អ្នក ហើយផ្ញើមក។"
    assert sorted(task["task"]["accept"]) == ["audio", "image"]
    rubric = task["task"]["rubric"][0]
    assert rubric["title"]["km"] == "គោលបំណងច្បាស់"
    assert [level["points"] for level in rubric["levels"]] == [3, 0, 0]

    with page.expect_navigation():
        page.get_by_role("link", name=km("Preview as learner")).click()
    assert "ថតរូបផែនការមេរៀនអាន" in page.locator("article.preview-item").inner_text()
    with page.expect_navigation():
        page.get_by_role("link", name=km("Back to the editor")).click()
    page.get_by_role("button", name=km("Publish")).click()
    expect(page.locator("#publish-result")).to_contain_text("1.0.0+", timeout=60_000)
    context.close()


def test_a_photo_larger_than_one_request_goes_up_in_parts(browser, site, tmp_path):
    photo = real_png(tmp_path / "រូបធំ.png", 1900, 1700)
    assert photo.stat().st_size > 9 * 1024 * 1024  # over the 8 MB one request may carry
    context = new_context(browser, site, "phone")
    page = context.new_page()
    sign_in(page, "instructor")
    draft_id = create_draft(page, "រូបធំ", "Big photo")
    page.get_by_role("button", name="+ " + km("Image")).click()
    page.locator("#image-file").set_input_files(str(photo))
    expect(page.locator("#image-editor")).to_be_visible(timeout=60_000)
    expect(page.locator("#image-shown")).to_have_js_property("naturalWidth", 1900)
    assert server_draft(page, draft_id)["media"][0]["size"] == photo.stat().st_size
    context.close()
