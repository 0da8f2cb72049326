"""The editor pages: who sees them, and lesson text that cannot break out of the page."""

from __future__ import annotations

from tests.authoring_helpers import add_item, make_course, three_item_course


def test_the_instructor_nav_links_to_make_a_course(client, login_as):
    login_as("instructor")
    page = client.get("/authoring/").get_data(as_text=True)
    assert 'href="/authoring/"' in page and "វគ្គសិក្សាថ្មី" in page


def test_learners_do_not_get_the_editor(client, login_as):
    login_as("learner")
    assert client.get("/authoring/").status_code == 403


def test_the_editor_page_carries_the_draft_without_letting_lesson_text_run(client, login_as):
    login_as("instructor")
    draft_id = make_course(client)
    add_item(client, draft_id, type="lesson", title={"km": "ក"},
             body_md="</script><script>alert(1)</script>")  # fmt: skip
    page = client.get(f"/authoring/{draft_id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "authoring.js" in page


def test_preview_as_learner_shows_each_item(client, login_as):
    login_as("instructor")
    draft_id = three_item_course(client)
    page = client.get(f"/authoring/{draft_id}/preview").get_data(as_text=True)
    assert "មេរៀនទី១" in page and "តើកុមារអានបានល្អបំផុតនៅពេលណា?" in page
    assert f"/authoring/{draft_id}/media/" in page
