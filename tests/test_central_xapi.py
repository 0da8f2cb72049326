"""xAPI 1.0.3 statements of every kind of event, checked by Ralph's models (an independent
implementation), and the paged export API that serves them."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from sync import protocol
from sync.central import registry, xapi
from sync.central.db import database
from sync.central.ingest import ingest_batch
from sync.protocol import Batch, CohortRecord, EventRecord, ItemRecord, UserRecord
from tests.central_support import PUBLIC, sign_in
from tests.conftest import assert_api_error
from tests.ralph_support import validate
from tests.sync_support import FAST

SPEC_EXAMPLES = Path("/work/shared/testdata/xapi/spec_examples")
LEARNER = uuid.uuid4().hex


def central(tmp_path, monkeypatch, **settings):
    from sync.central import create_app

    for var in [v for v in __import__("os").environ if v.startswith("KRU_")]:
        monkeypatch.delenv(var)
    app = create_app({"data_dir": str(tmp_path / "central"), "TESTING": True, **FAST, **settings})
    database.connect(reuse_if_open=True)
    return app


@pytest.fixture
def app(public_central_app):
    return public_central_app


ITEMS = [
    ItemRecord("p/lesson", "lesson", "មេរៀនទី១", "Lesson 1", "p/c", "វគ្គ", "Course", 4),
    ItemRecord("p/quiz", "quiz", "សំណួរ", "Quiz", "p/c", "វគ្គ", "Course", 4),
    ItemRecord("p/video", "video", "វីដេអូ", "Video", "p/c", "វគ្គ", "Course", 4),
    ItemRecord("p/app", "html5", "កម្មវិធី", "App", "p/c", "វគ្គ", "Course", 4),
]
OBSERVED = {
    "score": 0.75,
    "points": 3,
    "max_points": 4,
    "extensions": {
        protocol.CRITERIA_EXTENSION: [
            {"criterion": "engages", "competency": "CTPS.2.2", "level": 3, "max": 4},
        ]
    },
}
SKEW_MS = 3_600_000  # the Pi's clock is an hour behind


def every_kind(device_id: str) -> tuple[Batch, dict[str, str]]:
    """Return a batch holding every kind in ``xapi.VERBS`` once, and event id -> kind."""
    now = int(time.time() * 1000)
    decision = protocol.decision_id
    plan = [
        # (kind, id, verb, item, result, context)
        ("viewed", None, "viewed", "p/lesson", {"duration_s": 75.5}, None),
        ("progressed", None, "progressed", "p/video", {"completion": 0.4, "position_s": 30}, None),
        ("answered", None, "answered", "p/app", {"response": {"q1": "b"}}, None),
        (
            "attempted",
            None,
            "attempted",
            "p/quiz",
            {"score": 0.8, "success": True, "response": {"q1": ["a"]}, "duration_s": 3725},
            {"graded": {"q1": True}, "attempt": 1, "grader": "server"},
        ),
        ("reported-passed", None, "passed", "p/quiz", {"score": 0.8}, {"attempt_id": "x"}),
        ("reported-failed", None, "failed", "p/app", {"score": 0.2}, None),
        ("reported-completed", None, "completed", "p/lesson", {"completion": 1}, None),
        ("completed", decision(LEARNER, "p/lesson", "completed"), "completed", "p/lesson"),
        ("passed", decision(LEARNER, "p/quiz", "passed"), "passed", "p/quiz"),
        ("failed", decision(LEARNER, "p/app", "failed"), "failed", "p/app"),
        ("attended", None, "attended", "p/lesson", None, None),
        ("certified", None, "certified", "p/c", None, None),
        ("submitted", None, "submitted", "p/app", None, None),
        ("reviewed", None, "reviewed", "p/app", {"score": 0.75, "success": True}, None),
        ("posted", None, "posted", "p/app", None, None),
        ("observed", None, "observed", "p/app", OBSERVED, {"observer": "m1", "school": "S"}),
        ("reflected", None, "reflected", "p/app", None, {"observation": "x", "text": "ok"}),
        (
            "assessed",
            None,
            "assessed",
            "urn:kru:competency:CTPS.2.1",
            {"level": 2, "score": 0.7, "evidence": 3},
            {"decided_by": "site", "title": {"km": "ផែនការ", "en": "Plans lessons"}},
        ),
    ]
    events, kinds = [], {}
    for seq, (kind, event_id, verb, item, *rest) in enumerate(plan, start=1):
        result, context = rest if rest else ({"score": 0.9}, {"decided_by": "site"})
        eid = event_id or str(uuid.uuid4())
        kinds[eid] = kind
        events.append(
            EventRecord(seq, eid, LEARNER, verb, item, result, context, None, now - SKEW_MS, "b")
        )
    batch = Batch(
        batch_id=protocol.batch_id_for(device_id, 0, len(events)),
        device_id=device_id,
        after=0,
        last=len(events),
        clock_ms=now - SKEW_MS,
        users=[UserRecord(LEARNER, "sokha", "សុខា ចាន់", "learner")],
        cohorts=[CohortRecord("c1", "ថ្នាក់ ២០២៦ ក", [LEARNER])],
        items=ITEMS,
        events=events,
    )
    return batch, kinds


def exported(app, limit: int = 7) -> list[dict]:
    client = app.test_client()
    sign_in(client)
    seen, url = [], f"/api/v1/xapi/statements?limit={limit}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        seen += response.get_json()["statements"]
        url = response.get_json()["more"]
    return seen


def test_every_kind_of_event_is_a_valid_statement(app, ralph_python):
    device = registry.add_device("TEC Takeo", PUBLIC, "Takeo").device
    batch, kinds = every_kind(device.device_id)
    ingest_batch(database, device, batch)
    statements = exported(app)
    assert sorted(kinds[s["id"]] for s in statements) == sorted(xapi.VERBS)
    errors = validate(ralph_python, statements)
    assert errors == [[] for _ in statements], list(zip(kinds.values(), errors, strict=False))
    by_kind = {kinds[s["id"]]: s for s in statements}
    for s in statements:
        assert "stored" not in s
        assert s["actor"] == {
            "objectType": "Agent",
            "account": {"homePage": PUBLIC, "name": LEARNER},
        }
        assert s["object"]["id"].startswith(PUBLIC + "/xapi/activities/items/")
        assert s["verb"]["id"].startswith(("http://adlnet.gov/expapi/verbs/", PUBLIC + "/"))
        ext = s["context"]["extensions"]
        assert ext[PUBLIC + "/xapi/extensions/site"]["id"] == device.device_id
        assert ext[PUBLIC + "/xapi/extensions/cohorts"] == [{"id": "c1", "name": "ថ្នាក់ ២០២៦ ក"}]
        assert uuid.UUID(s["context"]["registration"])
        # The Pi's clock was an hour behind; the statement has the corrected time.
        stamp = s["timestamp"]
        assert abs(protocol.ts_to_ms(stamp) - time.time() * 1000) < 120_000
    lesson = by_kind["viewed"]["object"]["definition"]
    assert lesson["name"] == {"km": "មេរៀនទី១", "en": "Lesson 1"}
    assert lesson["type"] == "http://adlnet.gov/expapi/activities/lesson"
    assert by_kind["viewed"]["result"] == {"duration": "PT1M15.5S"}
    criteria = by_kind["observed"]["result"]["extensions"][protocol.CRITERIA_EXTENSION]
    assert criteria[0]["competency"] == "CTPS.2.2"
    assert by_kind["attempted"]["result"]["score"] == {"scaled": 0.8}
    assert by_kind["attempted"]["result"]["success"] is True
    assert by_kind["attempted"]["result"]["duration"] == "PT1H2M5S"
    assert by_kind["passed"]["verb"]["id"] == "http://adlnet.gov/expapi/verbs/passed"
    assert by_kind["passed"]["result"]["completion"] is True
    assert by_kind["failed"]["result"]["success"] is False
    assert by_kind["reported-passed"]["verb"]["id"] == PUBLIC + "/xapi/verbs/reported-passed"
    decided = by_kind["completed"]["context"]["extensions"]
    assert decided[PUBLIC + "/xapi/extensions/decided-by"] == "site"
    parent = by_kind["completed"]["context"]["contextActivities"]["parent"][0]
    assert parent["id"] == PUBLIC + "/xapi/activities/courses/p/c"
    assert parent["definition"]["name"] == {"km": "វគ្គ", "en": "Course"}
    # One registration per learner, site and course (the certificate names the course; a
    # competency level belongs to no course).
    in_course = [s for s in statements if kinds[s["id"]] not in ("certified", "assessed")]
    level = by_kind["assessed"]["result"]["extensions"]
    assert level[PUBLIC + "/xapi/extensions/level"] == 2
    assert len({s["context"]["registration"] for s in in_course}) == 1


def test_names_only_when_the_setting_allows(tmp_path, monkeypatch, ralph_python):
    app = central(
        tmp_path, monkeypatch, **{"central.public_url": PUBLIC, "central.xapi_names": True}
    )
    device = registry.add_device("TEC Takeo", PUBLIC, "Takeo").device
    batch, _kinds = every_kind(device.device_id)
    ingest_batch(database, device, batch)
    statements = exported(app)
    assert {s["actor"]["name"] for s in statements} == {"សុខា ចាន់"}
    assert validate(ralph_python, statements[:3]) == [[], [], []]


def test_export_without_a_public_url_is_refused(tmp_path, monkeypatch):
    app = central(tmp_path, monkeypatch)
    client = app.test_client()
    sign_in(client)
    body = assert_api_error(client.get("/api/v1/xapi/statements"), 409, "public_url_missing")
    assert "central.public_url" in body["message"]


def test_export_rejects_bad_paging(app):
    client = app.test_client()
    sign_in(client)
    assert_api_error(client.get("/api/v1/xapi/statements?limit=0"), 400, "invalid_paging")
    assert_api_error(client.get("/api/v1/xapi/statements?after=x"), 400, "invalid_paging")


def test_export_is_for_admins(app):
    client = app.test_client()
    sign_in(client, "viewer")
    assert_api_error(client.get("/api/v1/xapi/statements"), 403, "forbidden")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "PT0S"), (59.5, "PT59.5S"), (60, "PT1M"), (3725, "PT1H2M5S"), (0.25, "PT0.25S")],
)
def test_durations_are_iso_8601(seconds, text):
    assert xapi.duration(seconds) == text


def test_the_validator_passes_the_spec_examples_and_rejects_bad_statements(ralph_python):
    examples = []
    for name in ("appendixA_example_statements.json",):
        examples += json.loads((SPEC_EXAMPLES / name).read_text())
    inline = json.loads((SPEC_EXAMPLES / "inline_examples.json").read_text())
    examples += [e["example"] for e in inline if "actor" in e["example"]]
    assert len(examples) >= 4
    assert validate(ralph_python, examples) == [[] for _ in examples]
    bad = json.loads(json.dumps(examples[0]))
    bad["result"] = {"score": 0.9}  # Kru's export once sent a bare number
    no_verb = {k: v for k, v in examples[0].items() if k != "verb"}
    empty_name = json.loads(json.dumps(examples[0]))
    empty_name["object"]["definition"] = {"name": {}}
    errors = validate(ralph_python, [bad, no_verb, empty_name])
    assert all(errors), errors
    assert "result.score" in errors[0][0]
