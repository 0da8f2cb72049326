"""SCORM run-time data on the Pi: kept for resuming, turned into events (issue 18 item 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from content_packs.importers.convert import import_file
from edge_server.learning import assignments, scorm
from edge_server.learning.models import Progress
from tests.packs_factory import install

TESTDATA = Path(
    os.environ.get("KRU_TESTDATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
)
GOLF_12 = TESTDATA / "scorm" / "golf_scorm12_RuntimeBasicCalls.zip"
GOLF_2004 = TESTDATA / "scorm" / "golf_scorm2004_3rd_RuntimeBasicCalls.zip"
KHMER = "ទំព័រទី៣ · សុខ ដារា"


@pytest.fixture
def golf(app, login_as, make_cohort, tmp_path):
    """A learner signed in, with the SCORM 1.2 golf sample assigned; returns (user, item)."""

    def make(src: Path = GOLF_12):
        report = import_file(src, tmp_path / "golf.zip")
        install(app, tmp_path / "golf.zip")
        user = login_as("learner")
        assignments.assign(make_cohort(learners=[user]), f"{report.pack_id}/course", None, None)
        return user, f"{report.pack_id}/item-1"

    return make


def _post(client, item: str, body: dict, token_from: str | None = None):
    pack, slug = item.split("/")
    token = client.get(f"/learn/items/{token_from or item}").get_data(as_text=True)
    csrf = token.split('name="csrf-token" content="')[1].split('"')[0]
    return client.post(f"/api/v1/scorm/{pack}/{slug}", json=body, headers={"X-CSRFToken": csrf})


def _cmi12(**core) -> dict:
    return {"core": core, "suspend_data": KHMER}


def test_a_learner_resumes_with_the_location_and_suspend_data_kept(client, golf):
    user, item = golf()
    body = {"version": "1.2", "session": "s1", "finished": False}
    body["cmi"] = _cmi12(lesson_location="3", lesson_status="incomplete", exit="suspend")
    response = _post(client, item, body)
    assert response.status_code == 200, response.get_json()

    start = scorm.start(user, item, "1.2")["cmi"]
    assert start["suspend_data"] == KHMER
    assert start["core"]["lesson_location"] == "3"
    assert start["core"]["entry"] == "resume"
    assert "exit" not in start["core"]
    page = client.get(f"/learn/items/{item}").get_data(as_text=True)
    assert "#kru-scorm=" in page and "allow-modals" in page


def test_a_passed_sco_becomes_a_passed_event_with_the_score_and_its_time(client, golf):
    user, item = golf()
    cmi = _cmi12(lesson_status="passed", session_time="0000:02:30.00", exit="")
    cmi["core"]["score"] = {"raw": "80", "min": "0", "max": "100"}
    for _ in range(2):  # the bridge may send the same data twice
        response = _post(
            client, item, {"version": "1.2", "session": "s", "finished": True, "cmi": cmi}
        )
        assert response.get_json() == {"status": "passed", "score": 0.8}
    row = Progress.get(Progress.item == item, Progress.user_id == user.id)
    assert (row.status, row.score, row.time_s) == ("passed", 0.8, 150)


def test_scorm_2004_statuses_and_scaled_score(client, golf):
    user, item = golf(GOLF_2004)
    cmi = {"success_status": "failed", "completion_status": "completed", "score": {"scaled": "0.4"}}
    response = _post(
        client, item, {"version": "2004", "session": "a", "finished": False, "cmi": cmi}
    )
    assert response.get_json() == {"status": "failed", "score": 0.4}
    assert Progress.get(Progress.item == item, Progress.user_id == user.id).score == 0.4


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"version": "2004", "cmi": {}}, "invalid_scorm_data"),
        ({"version": "1.2", "cmi": "x"}, "invalid_scorm_data"),
        ({"version": "1.2", "cmi": {"suspend_data": "x" * 4097}}, "invalid_scorm_data"),
        ({"version": "1.2", "cmi": {"core": {"lesson_location": ["a"]}}}, "invalid_scorm_data"),
    ],
)
def test_bad_scorm_data_is_refused_with_a_stable_code(client, golf, body, code):
    _user, item = golf()
    response = _post(client, item, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_an_item_the_learner_cannot_open_is_not_found(client, golf):
    _user, item = golf()
    pack = item.split("/")[0]
    response = _post(client, item, {"version": "1.2", "cmi": {}})
    assert response.status_code == 200
    other = _post(client, f"{pack}/nothing-here", {"version": "1.2", "cmi": {}}, token_from=item)
    assert other.status_code == 404
    assert other.get_json()["error"]["code"] == "item_not_found"


@pytest.mark.parametrize(
    ("version", "text", "seconds"),
    [
        ("1.2", "0000:02:30.00", 150.0),
        ("1.2", "01:00:01", 3601.0),
        ("2004", "PT1H2M3.5S", 3723.5),
        ("2004", "P1DT1S", 86401.0),
        ("2004", "PT", None),
        ("1.2", "soon", None),
    ],
)
def test_scorm_time_spans(version, text, seconds):
    assert scorm.seconds(version, text) == seconds


def test_scorm_pages_may_open_dialogs_and_be_framed_by_their_own_pages(client, golf):
    _user, item = golf()
    page = client.get(f"/learn/items/{item}").get_data(as_text=True)
    launch = page.split('<iframe class="app" src="')[1].split("#")[0].replace("&amp;", "&")
    other = launch.replace("shared/launchpage.html", "Playing/Playing.html")
    response = client.get(other)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox allow-scripts allow-modals;")
    assert "frame-ancestors" not in csp
    assert "X-Frame-Options" not in response.headers
