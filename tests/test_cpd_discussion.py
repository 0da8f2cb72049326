"""Discussion boards per course and cohort (issue 16 items 3-4): who may read and post,
moderation, reports, hostile markup, pictures, the new-replies note and the posted events."""

from __future__ import annotations

import io
import json
import os
import uuid

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from content_packs.manifest import schema_problems
from content_packs.models import Pack
from edge_server.accounts.models import Cohort
from edge_server.base.errors import NotFound, PermissionDenied
from edge_server.cpd import discussion
from edge_server.cpd.discussion_models import Post
from edge_server.learning import assignments
from edge_server.learning.models import Event
from tests.conftest import form_csrf
from tests.learning_catalog import COURSE, make_catalog

PACK, SLUG = COURSE.split("/")
HOSTILE = (
    '<script>alert(1)</script><img src=x onerror="alert(2)">'
    '<a href="javascript:alert(3)">ចុច</a><iframe src="//evil"></iframe>'
    '<p style="position:fixed" onclick="x()">សួស្ដី</p>[link](javascript:alert(4))'
)


@pytest.fixture
def boards(app, make_user, make_cohort):
    make_catalog(open_course=False)
    a = [make_user(display_name=f"សិស្ស ក{i}", language="km") for i in range(3)]
    b = [make_user(display_name="សិស្ស ខ", language="km")]
    teacher = make_user(role="instructor", language="en")
    other_teacher = make_user(role="instructor", language="en")
    ca = make_cohort(learners=a, instructors=[teacher])
    cb = make_cohort(learners=b, instructors=[other_teacher])
    assignments.assign(ca, COURSE, None, teacher)
    assignments.assign(cb, COURSE, None, other_teacher)
    return {"a": a, "b": b, "teacher": teacher, "other": other_teacher, "ca": ca, "cb": cb}


def _board_url(cohort) -> str:
    return f"/discuss/{cohort.id}/{PACK}/{SLUG}"


def _post_form(client, url: str, data: dict, **kw):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": form_csrf(page), **data}, **kw)


def test_learner_starts_a_thread_and_another_replies_in_khmer(client, login_as, boards):
    login_as(user=boards["a"][0])
    response = _post_form(
        client, _board_url(boards["ca"]), {"title": "សំណួរអំពីការអាន", "text": "តើយើងចាប់ផ្ដើមយ៉ាងដូចម្ដេច?"}
    )
    assert response.status_code == 303
    thread = Post.get(Post.thread.is_null())
    client.post("/logout")
    login_as(user=boards["a"][1])
    url = f"/discuss/threads/{thread.id}"
    response = _post_form(client, url, {"text": "ចាប់ផ្ដើមពីរឿងខ្លី **សាមញ្ញ**"})
    assert response.status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert "តើយើងចាប់ផ្ដើមយ៉ាងដូចម្ដេច?" in html
    assert "ចាប់ផ្ដើមពីរឿងខ្លី <strong>សាមញ្ញ</strong>" in html


def test_a_learner_of_another_cohort_cannot_read_or_post(client, login_as, boards):
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទ")
    login_as(user=boards["b"][0])
    assert client.get(_board_url(boards["ca"])).status_code == 403
    assert client.get(f"/discuss/threads/{thread.id}").status_code == 403
    token = form_csrf(client.get(_board_url(boards["cb"])).get_data(as_text=True))
    response = client.post(
        f"/discuss/threads/{thread.id}", data={"csrf_token": token, "text": "ចូលលួច"}
    )
    assert response.status_code == 403
    response = client.post(
        _board_url(boards["ca"]), data={"csrf_token": token, "title": "x", "text": "y"}
    )
    assert response.status_code == 403
    assert Post.select().count() == 1
    with pytest.raises(PermissionDenied):
        discussion.reply(boards["b"][0], thread, "ចូលលួច")


def test_an_instructor_of_another_cohort_cannot_moderate(boards):
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទ")
    with pytest.raises(PermissionDenied):
        discussion.moderate(boards["other"], thread, "hide")
    with pytest.raises(PermissionDenied):
        discussion.board(boards["other"], boards["ca"], COURSE)
    assert not Post.get_by_id(thread.id).hidden


def test_no_board_for_a_course_not_assigned_to_the_cohort(boards, make_cohort):
    lonely = make_cohort(learners=[boards["a"][0]])
    with pytest.raises(NotFound):
        discussion.start_thread(boards["a"][0], lonely, COURSE, "ប្រធានបទ", "អត្ថបទ")


def test_hostile_markup_is_inert(client, login_as, boards):
    login_as(user=boards["a"][0])
    _post_form(client, _board_url(boards["ca"]), {"title": "<b>ចំណងជើង</b>", "text": HOSTILE})
    thread = Post.get(Post.thread.is_null())
    html = client.get(f"/discuss/threads/{thread.id}").get_data(as_text=True)
    body = html.split('id="posts"')[1]
    for bad in ("<script", "onerror", "javascript:", "<iframe", "onclick", "style=", "<img src=x"):
        assert bad not in body, bad
    assert "សួស្ដី" in body
    assert "&lt;b&gt;ចំណងជើង&lt;/b&gt;" in html  # a title is text, escaped
    assert "javascript:" not in thread.body


def test_instructor_pins_locks_and_hides(client, login_as, boards):
    first = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "មុន", "ក")
    second = discussion.start_thread(boards["a"][1], boards["ca"], COURSE, "ក្រោយ", "ខ")
    rude = discussion.reply(boards["a"][2], second, "ពាក្យអាក្រក់")
    login_as(user=boards["teacher"])
    page = client.get(f"/discuss/threads/{first.id}").get_data(as_text=True)
    token = form_csrf(page)
    for post, action in ((first, "pin"), (second, "lock"), (rude, "hide")):
        response = client.post(
            f"/discuss/posts/{post.id}/moderate", data={"csrf_token": token, "action": action}
        )
        assert response.status_code == 303
    lines = discussion.board(boards["a"][0], boards["ca"], COURSE)
    assert [t.post.id for t in lines] == [first.id, second.id]  # pinned first
    view = discussion.thread_view(boards["a"][0], Post.get_by_id(second.id))
    assert view.posts[-1].hidden
    client.post("/logout")
    login_as(user=boards["a"][0])
    html = client.get(f"/discuss/threads/{second.id}").get_data(as_text=True)
    assert "ពាក្យអាក្រក់" not in html
    assert 'id="locked-note"' in html
    response = client.post(
        f"/discuss/threads/{second.id}", data={"csrf_token": token, "text": "ទៀត"}
    )
    assert response.status_code == 400
    assert Post.select().where(Post.thread == second).count() == 1


def test_learner_cannot_moderate(client, login_as, boards):
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទ")
    login_as(user=boards["a"][1])
    token = form_csrf(client.get(f"/discuss/threads/{thread.id}").get_data(as_text=True))
    response = client.post(
        f"/discuss/posts/{thread.id}/moderate", data={"csrf_token": token, "action": "hide"}
    )
    assert response.status_code == 403
    assert not Post.get_by_id(thread.id).hidden


def test_learner_reports_a_post_and_the_instructor_sees_it(client, login_as, boards):
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទ")
    login_as(user=boards["a"][1])
    token = form_csrf(client.get(f"/discuss/threads/{thread.id}").get_data(as_text=True))
    for _ in range(2):  # a second report by the same learner counts once
        response = client.post(
            f"/discuss/posts/{thread.id}/report", data={"csrf_token": token, "reason": "មិនសមរម្យ"}
        )
        assert response.status_code == 303
    client.post("/logout")
    login_as(user=boards["teacher"])
    html = client.get(f"/teach/cohorts/{boards['ca'].id}/reports").get_data(as_text=True)
    assert "មិនសមរម្យ" in html
    assert [(r.post.id, r.count) for r in discussion.reported_posts(boards["ca"])] == [
        (thread.id, 1)
    ]
    client.post("/logout")
    login_as(user=boards["other"])
    assert client.get(f"/teach/cohorts/{boards['ca'].id}/reports").status_code == 403


def test_home_page_counts_new_replies_until_the_thread_is_read(client, login_as, boards):
    author = boards["a"][0]
    thread = discussion.start_thread(author, boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទ")
    discussion.reply(author, thread, "ខ្ញុំផ្ទាល់")  # one's own reply is not news
    for learner in boards["a"][1:]:
        discussion.reply(learner, thread, "ចម្លើយ")
    discussion.reply(boards["teacher"], thread, "គ្រូឆ្លើយ")
    assert discussion.new_replies(author) == 3
    login_as(user=author)
    home = client.get("/learn/").get_data(as_text=True)
    assert 'id="new-replies"' in home and "៣" in home.split('id="new-replies"')[1][:300]
    client.get(f"/discuss/threads/{thread.id}")
    assert discussion.new_replies(author) == 0
    assert 'id="new-replies"' not in client.get("/learn/").get_data(as_text=True)


def _png(size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buf, "PNG")
    return buf.getvalue()


def test_reply_with_a_picture_is_served_only_to_the_cohort(client, login_as, boards):
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទ")
    picture = _png(400)  # random pixels: about 480 kB, under the 1 MiB body cap
    assert 300_000 < len(picture) < 1024 * 1024
    login_as(user=boards["a"][1])
    url = f"/discuss/threads/{thread.id}"
    response = _post_form(
        client,
        url,
        {"text": "រូបភាពថ្នាក់", "image": (io.BytesIO(picture), "class.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    reply = Post.get(Post.thread == thread)
    served = client.get(f"/discuss/posts/{reply.id}/image")
    assert served.status_code == 200 and served.data == picture
    assert served.mimetype == "image/png"
    served.close()
    client.post("/logout")
    login_as(user=boards["b"][0])
    assert client.get(f"/discuss/posts/{reply.id}/image").status_code == 403


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", 400),
        (b"GIF89a" + os.urandom(2000), 400),
        (os.urandom(1024 * 1024 + 10), 413),
    ],
    ids=["svg-script", "fake-gif", "over-1-MiB"],
)
def test_bad_pictures_are_refused_and_nothing_is_posted(client, login_as, boards, data, status):
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទ")
    login_as(user=boards["a"][1])
    url = f"/discuss/threads/{thread.id}"
    token = form_csrf(client.get(url).get_data(as_text=True))
    boundary, body = encode_multipart(
        {"csrf_token": token, "text": "រូប", "image": FileStorage(io.BytesIO(data), "x.gif")}
    )
    response = client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == status
    assert Post.select().count() == 1


def test_each_post_appends_one_event_without_its_text(boards):
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "សម្ងាត់")
    reply = discussion.reply(boards["a"][1], thread, "ចម្លើយសម្ងាត់")
    events = list(Event.select().where(Event.verb == "posted").order_by(Event.server_ts))
    assert [e.id for e in events] == [thread.event_id, reply.event_id]
    assert reply.event_id == str(uuid.uuid5(discussion.POST_NAMESPACE, reply.uid))
    assert {e.object for e in events} == {f"urn:kru:discussion:{COURSE}:{boards['ca'].uid}"}
    ctx = json.loads(events[1].context)
    assert ctx == {
        "cohort": boards["ca"].uid,
        "course": COURSE,
        "thread": thread.uid,
        "reply": reply.uid,
    }
    assert "សម្ងាត់" not in events[0].context + events[1].context


def test_text_travels_when_the_pack_marks_the_discussion_for_review(boards):
    Pack.update(
        manifest=json.dumps({"courses": [{"slug": SLUG, "discussion": {"review": True}}]})
    ).execute()
    thread = discussion.start_thread(boards["a"][0], boards["ca"], COURSE, "ប្រធានបទ", "អត្ថបទពិនិត្យ")
    ctx = json.loads(Event.get(Event.id == thread.event_id).context)
    assert ctx["text"] == "អត្ថបទពិនិត្យ" and ctx["title"] == "ប្រធានបទ"


def test_sample_pack_opens_its_board_with_a_prompt_and_no_review(app, tmp_path, client, login_as):
    from content_packs.build import build_pack
    from content_packs.demo import SAMPLE
    from edge_server.accounts.models import CohortMember
    from tests.packs_factory import install

    out = tmp_path / "sample.zip"
    build_pack(SAMPLE, out)
    install(app, out)  # the manifest passes the JSON Schema with the discussion table
    key = "classroom-reading/classroom-reading"
    rule = discussion.board_rule(key)
    assert rule.review is False and rule.prompt["km"].startswith("តើអ្នករៀបចំជ្រុងអាន")
    learner = login_as()
    cohort = Cohort.create(name="ក្រុម ក")
    CohortMember.create(cohort=cohort, user=learner)
    assignments.assign(cohort, key, None, None)
    html = client.get(f"/discuss/{cohort.id}/{key}").get_data(as_text=True)
    assert 'id="prompt"' in html and 'id="review-note"' not in html


def test_a_manifest_with_a_bad_discussion_table_is_refused():
    manifest = {"courses": [{"slug": "c", "discussion": {"review": "yes", "vote": 1}}]}
    problems = " ".join(str(p) for p in schema_problems(manifest))
    assert "review" in problems and "vote" in problems
