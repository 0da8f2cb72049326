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


def _held_pack(client, app) -> str:
    """Publish a course here, then record that central assigned other content for it."""
    import json

    from edge_server.base.datahome import write_file_atomically
    from sync.edge import downloads
    from tests.authoring_helpers import api

    draft_id = three_item_course(client)
    published = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish").get_json()
    pack_id = published["pack"]["id"]
    home = app.config["KRU_HOME"]
    state = downloads.read_state(home)
    state["packs"][pack_id] = {
        "version": "2.0.0",
        "state": "pending",
        "reason": "waiting for the admin",
        "sha256": "a" * 64,
        "held": True,
    }
    downloads.downloads_dir(home).mkdir(parents=True, exist_ok=True)
    write_file_atomically(
        downloads.downloads_dir(home) / downloads.STATE_FILE, json.dumps(state), 0o644
    )
    return pack_id


def test_the_admin_chooses_between_the_local_and_the_official_version(client, login_as, app):
    from sync.edge import local_versions
    from tests.authoring_helpers import api
    from tests.conftest import assert_api_error

    login_as("instructor")
    pack_id = _held_pack(client, app)
    page = client.get("/authoring/").get_data(as_text=True)
    assert "គេហទំព័រនេះប្រើកំណែផ្ទាល់ខ្លួន 1.0.0+" in page  # the local version, in Khmer
    assert "បានបន្ថែម" in page and "lesson-one" in page  # what the local version added
    assert "អ្នកគ្រប់គ្រងគេហទំព័រជាអ្នកជ្រើស។" in page  # an instructor does not choose
    refused = api(client, "POST", f"/authoring/versions/{pack_id}", data={"choice": "local"})
    assert refused.status_code == 403

    login_as("admin")
    assert_api_error(
        api(client, "POST", f"/api/v1/authoring/versions/{pack_id}", json={"choice": "both"}),
        400,
        "bad_choice",
    )
    assert_api_error(
        api(client, "POST", "/api/v1/authoring/versions/no-such", json={"choice": "local"}),
        404,
        "nothing_to_choose",
    )
    answer = api(client, "POST", f"/authoring/versions/{pack_id}", data={"choice": "official"})
    assert answer.status_code == 302
    chosen = local_versions.read_choices(app.config["KRU_HOME"])[pack_id]
    assert chosen["choice"] == "official" and chosen["sha256"] == "a" * 64
    page = client.get("/authoring/").get_data(as_text=True)
    assert "បានជ្រើស៖ កំណែផ្លូវការ" in page
