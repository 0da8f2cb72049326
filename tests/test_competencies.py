"""Competency frameworks in packs and learners' competency profiles (issue 16 items 5-6)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from content_packs.build import build_pack, make_manifest
from content_packs.errors import InvalidPack
from content_packs.frameworks import parse, resolve
from content_packs.install import install_pack
from content_packs.manifest import parse_manifest
from edge_server import accounts
from edge_server.competencies import profiles, rules
from edge_server.competencies.rules import Evidence
from edge_server.learning import assignments
from edge_server.learning import events as learning_events
from edge_server.learning.models import Event
from tests.conftest import api_headers, assert_api_error
from tests.tasks_support import SAMPLE, TASK, install_sample

CHECK = "classroom-reading/check-groups"
RIGHT = {"before-reading": "show-cover", "pair-roles": ["swap-roles", "wait-three"]}
RIGHT["same-story"] = True  # type: ignore[assignment]
COURSE = "classroom-reading/classroom-reading"
CRITERIA = "https://kru.example/xapi/criteria"


def _copy_sample(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src)
    return src


def _problems(src: Path) -> list[tuple[str, str]]:
    manifest, _files = make_manifest(src)
    _parsed, problems = parse_manifest(json.dumps(manifest).encode())
    return [(p.code, p.message) for p in problems]


# --- the pack format ---------------------------------------------------------------------


def test_sample_pack_ships_a_labelled_sample_of_the_four_domains(tmp_path):
    manifest, _files = make_manifest(SAMPLE)
    (fw,) = manifest["frameworks"]
    assert fw["code"] == "CTPS" and fw["sample"] is True
    assert "SAMPLE" in fw["title"]["en"] and "គំរូ" in fw["title"]["km"]
    assert [d["title"]["en"] for d in fw["domains"]] == [
        "Professional knowledge",
        "Professional practice",
        "Professional learning",
        "Professional ethics",
    ]
    assert all(d["title"]["km"] for d in fw["domains"])
    items = {i["slug"]: i for c in manifest["courses"] for m in c["modules"] for i in m["items"]}
    assert items["check-groups"]["competencies"] == ["CTPS.1.3"]
    assert items["reading-aloud"]["competencies"] == ["CTPS.1.3.1"]
    rubric = items["plan-reading-lesson"]["task"]["rubric"]
    assert [c["competency"] for c in rubric] == ["CTPS.2.1.1", "CTPS.2.1.2", "CTPS.2.3.1"]
    assert _problems(SAMPLE) == []
    # the course keeps its session plan, discussion prompt and certificate rule
    course = manifest["courses"][0]
    assert course["sessions"] and course["discussion"]["prompt"]["km"]
    assert course["certificate"]["hours"] == 12


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ('code = "CTPS.2.3"\n', 'code = "CTPS.3.9"\n', "framework_invalid"),  # not in CTPS.2
        ('code = "CTPS.1.2"\n', 'code = "CTPS.1.1"\n', "framework_invalid"),  # twice
        ('code = "CTPS.1.3.1"\n', 'code = "CTPS.1.3"\n', "framework_invalid"),  # an indicator?
    ],
)
def test_framework_codes_must_sit_in_their_place(tmp_path, old, new, code):
    src = _copy_sample(tmp_path)
    path = src / "frameworks" / "ctps-sample.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    found = _problems(src)
    assert found and found[0][0] == code, found


@pytest.mark.parametrize("named", ["CTPS.2.9", "CTPS.2", "CTPS.2.1.7"])
def test_items_may_only_name_standards_or_indicators_the_framework_has(tmp_path, named):
    src = _copy_sample(tmp_path)
    path = src / "quizzes" / "check-groups.toml"
    text = path.read_text(encoding="utf-8").replace('["CTPS.1.3"]', f'["{named}"]')
    path.write_text(text, encoding="utf-8")
    found = _problems(src)
    assert [c for c, _m in found] == ["competency_unknown"]
    assert named in found[0][1] and "check-groups" in found[0][1]


def test_a_rubric_criterion_naming_an_unknown_competency_is_refused(tmp_path):
    src = _copy_sample(tmp_path)
    path = src / "tasks" / "plan-reading-lesson.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('"CTPS.2.1.2"', '"CTPS.2.1.5"'),
        encoding="utf-8",
    )
    assert [c for c, _m in _problems(src)] == ["competency_unknown"]


def test_a_competency_code_of_the_wrong_shape_fails_the_schema(tmp_path):
    src = _copy_sample(tmp_path)
    path = src / "quizzes" / "check-groups.toml"
    text = path.read_text(encoding="utf-8").replace('["CTPS.1.3"]', '["ctps 1/3"]')
    path.write_text(text, encoding="utf-8")
    assert _problems(src)


def _without_framework(tmp_path: Path, pack_id: str) -> Path:
    """Build the sample as another pack that names the codes but holds no framework."""
    src = _copy_sample(tmp_path)
    pack = src / "pack.toml"
    text = pack.read_text(encoding="utf-8").replace(
        'frameworks = ["frameworks/ctps-sample.toml"]\n', ""
    )
    pack.write_text(text.replace('id = "classroom-reading"', f'id = "{pack_id}"'), "utf-8")
    zip_path = tmp_path / f"{pack_id}.zip"
    build_pack(src, zip_path)
    return zip_path


def test_codes_of_a_framework_not_installed_yet_count_once_it_arrives(
    cohort_site, app, tmp_path, caplog
):
    # the sample pack (with the framework) is installed by cohort_site; a second pack names
    # codes of a framework "XCPS" no pack holds: accepted, with a warning, and no evidence
    unzipped = tmp_path / "later"
    shutil.copytree(SAMPLE, unzipped)
    quiz = unzipped / "quizzes" / "check-groups.toml"
    quiz.write_text(
        quiz.read_text(encoding="utf-8").replace('["CTPS.1.3"]', '["XCPS.1.3"]'), "utf-8"
    )
    pack = unzipped / "pack.toml"
    text = pack.read_text(encoding="utf-8").replace(
        'frameworks = ["frameworks/ctps-sample.toml"]\n', ""
    )
    pack.write_text(text.replace('id = "classroom-reading"', 'id = "reading-three"'), "utf-8")
    later = tmp_path / "later.zip"
    build_pack(unzipped, later)
    install_pack(later, app.config["KRU"], app.config["KRU_HOME"])
    assert "XCPS" in caplog.text
    learner = cohort_site["learner"]
    learning_events.submit_attempt(learner, "reading-three/check-groups", str(uuid.uuid4()), RIGHT)
    assert "XCPS.1.3" not in _levels(learner)


def test_install_refuses_codes_an_installed_framework_lacks(app, tmp_path):
    install_sample(app, tmp_path)  # CTPS is installed
    src = _copy_sample(tmp_path / "other")
    quiz = src / "quizzes" / "check-groups.toml"
    quiz.write_text(
        quiz.read_text(encoding="utf-8").replace('["CTPS.1.3"]', '["CTPS.1.9"]'), "utf-8"
    )
    pack = src / "pack.toml"
    text = pack.read_text(encoding="utf-8").replace(
        'frameworks = ["frameworks/ctps-sample.toml"]\n', ""
    )
    pack.write_text(text.replace('id = "classroom-reading"', 'id = "reading-two"'), "utf-8")
    zip_path = tmp_path / "two.zip"
    build_pack(src, zip_path)
    with pytest.raises(InvalidPack) as caught:
        install_pack(zip_path, app.config["KRU"], app.config["KRU_HOME"])
    assert caught.value.code == "competency_unknown"
    assert "CTPS.1.9" in caught.value.message


def test_a_pack_naming_codes_installs_before_its_framework(app, tmp_path):
    zip_path = _without_framework(tmp_path, "reading-two")
    assert install_pack(zip_path, app.config["KRU"], app.config["KRU_HOME"]).pack_id == (
        "reading-two"
    )


def test_an_official_framework_wins_over_the_sample():
    manifest, _files = make_manifest(SAMPLE)
    sample = parse(manifest["frameworks"][0], "classroom-reading")
    official_raw = {**manifest["frameworks"][0], "id": "ctps", "sample": False}
    official_raw["title"] = {"km": "ស្តង់ដារ", "en": "Official"}
    official = parse(official_raw, "ctps-official")
    assert resolve([official, sample])["CTPS"].title["en"] == "Official"
    assert resolve([sample, official])["CTPS"].title["en"] == "Official"


# --- the rules ---------------------------------------------------------------------------


def _ev(kind: str, share: float | None) -> Evidence:
    return Evidence("CTPS.2.1", kind, "p/x", share, "2026-01-01")


@pytest.mark.parametrize(
    ("evidence", "level"),
    [
        ([], rules.NOT_YET),
        ([_ev("studied", None)], rules.BEGINNING),
        ([_ev("scored", 0.4)], rules.BEGINNING),
        ([_ev("scored", 0.5)], rules.DEVELOPING),
        ([_ev("scored", 1.0)], rules.DEVELOPING),  # quizzes alone never make proficient
        ([_ev("scored", 1.0), _ev("review", 0.6)], rules.PROFICIENT),  # mean 0.8
        ([_ev("scored", 0.9), _ev("review", 0.5)], rules.DEVELOPING),  # mean 0.7
        ([_ev("observation", 1.0), _ev("studied", None)], rules.PROFICIENT),
    ],
)
def test_levels_follow_the_documented_rules(evidence, level):
    assert rules.decide(evidence).level == level


# --- profiles on a site ------------------------------------------------------------------


@pytest.fixture
def cohort_site(app, tmp_path, make_user, make_cohort):
    install_sample(app, tmp_path)
    learner = make_user(display_name="សុខ ចាន់ធីតា")
    other = make_user()
    teacher = make_user(role="instructor")
    cohort = make_cohort("ក្រុម ក", learners=[learner, other], instructors=[teacher])
    assignments.assign(cohort, COURSE, None, teacher)
    return {"learner": learner, "other": other, "teacher": teacher, "cohort": cohort}


def _pass_quiz(user) -> None:
    learning_events.submit_attempt(user, CHECK, str(uuid.uuid4()), RIGHT)


def _reviewed(user, criteria: list[tuple[str, str | None, int, int]], verb: str = "reviewed"):
    """Ingest a review with the criteria results practicum15's code writes (the contract)."""
    result = {
        "decision": "accepted",
        "score": 1.0,
        "extensions": {
            CRITERIA: [
                {"criterion": cid, "competency": code, "level": level, "max": top}
                for cid, code, level, top in criteria
            ]
        },
    }
    event = learning_events.CleanEvent(0, str(uuid.uuid4()), verb, TASK, result, {}, None)
    learning_events.ingest(user, [event])


def _levels(user) -> dict[str, int]:
    return {
        r.object.removeprefix(profiles.OBJECT_PREFIX): json.loads(r.result)["level"]
        for r in Event.select()
        .where((Event.user == user.id) & (Event.verb == "assessed"))
        .order_by(Event.seq)
    }


def test_a_passed_quiz_makes_its_competency_developing_and_logs_the_decision(cohort_site):
    learner = cohort_site["learner"]
    _pass_quiz(learner)
    profile = profiles.learner_profile(learner, learner.id, "en")
    rows = {c.code: c for d in profile.frameworks[0].domains for c in d.competencies}
    assert rows["CTPS.1.3"].level == rules.DEVELOPING
    assert rows["CTPS.1.3"].score == 1.0
    assert rows["CTPS.1.3"].evidence[0].item_title.startswith("Quick check")
    assert rows["CTPS.2.1"].level == rules.NOT_YET
    assert _levels(learner) == {"CTPS.1.3": rules.DEVELOPING}
    assert profiles.decide(learner) == 0  # nothing changed: nothing logged again


def test_review_criteria_give_practice_evidence_per_competency(cohort_site):
    learner = cohort_site["learner"]
    _reviewed(
        learner,
        [
            ("objective", "CTPS.2.1.1", 2, 2),
            ("timing", "CTPS.2.1.2", 2, 2),
            ("support", "CTPS.2.3.1", 0, 2),
            ("extra", None, 1, 1),
        ],
    )
    profile = profiles.learner_profile(learner, learner.id, "en")
    rows = {c.code: c for d in profile.frameworks[0].domains for c in d.competencies}
    assert rows["CTPS.2.1"].level == rules.PROFICIENT
    assert [e.criterion_title for e in rows["CTPS.2.1"].evidence] == ["Objective", "Timing"]
    assert rows["CTPS.2.3"].level == rules.BEGINNING
    # a later review replaces the earlier one's evidence, and the change is logged once more
    _reviewed(learner, [("objective", "CTPS.2.1.1", 1, 2), ("timing", "CTPS.2.1.2", 1, 2)])
    assert _levels(learner)["CTPS.2.1"] == rules.DEVELOPING
    numbers = [
        json.loads(r.context)["number"]
        for r in Event.select().where(
            (Event.user == learner.id) & (Event.object == profiles.OBJECT_PREFIX + "CTPS.2.1")
        )
    ]
    assert numbers == [1, 2]


def test_observation_criteria_count_as_practice(cohort_site):
    learner = cohort_site["learner"]
    # an observation event as the practicum feature writes it (in the learner's log)
    Event.create(
        id=str(uuid.uuid4()),
        user=learner.id,
        verb="observed",
        object="classroom-reading/observe-reading",
        result=json.dumps(
            {
                "extensions": {
                    CRITERIA: [{"criterion": "c1", "competency": "CTPS.4.1", "level": 3, "max": 3}]
                }
            }
        ),
        context="{}",
        server_ts="2026-03-01T00:00:00+00:00",
        boot_id="b",
    )
    assert profiles.decide(learner) == 1
    assert _levels(learner) == {"CTPS.4.1": rules.PROFICIENT}


def test_instructor_sees_the_cohort_matrix(cohort_site, client, login_as):
    _pass_quiz(cohort_site["learner"])
    login_as(user=cohort_site["teacher"])
    cid = cohort_site["cohort"].id
    page = client.get(f"/teach/cohorts/{cid}/competencies").get_data(as_text=True)
    assert 'id="competency-matrix"' in page and "ចំណេះដឹងវិជ្ជាជីវៈ" in page
    assert 'id="sample-note"' in page
    row = page.split("សុខ ចាន់ធីតា")[1].split("</tr>")[0]
    assert 'data-code="CTPS.1.3"' in row and "lvl-2" in row
    body = client.get(f"/api/v1/cohorts/{cid}/competencies").get_json()
    levels = {r["name"]: r["levels"] for r in body["learners"]}
    assert levels["សុខ ចាន់ធីតា"]["CTPS.1.3"] == 2
    assert len(body["competencies"]) == 11
    learner_page = client.get(
        f"/teach/cohorts/{cid}/competencies/{cohort_site['learner'].id}"
    ).get_data(as_text=True)
    assert "CTPS.1.3" in learner_page and "សុខ ចាន់ធីតា" in learner_page


def test_learner_sees_their_own_profile_in_khmer(cohort_site, client, login_as):
    _pass_quiz(cohort_site["learner"])
    login_as(user=cohort_site["learner"])
    page = client.get("/competencies").get_data(as_text=True)
    assert "សមត្ថភាពរបស់ខ្ញុំ" in page
    assert 'data-code="CTPS.1.3" data-level="2"' in page
    assert "គំរូ" in page  # the sample is labelled
    assert "៨០ %" in page
    own = client.get("/api/v1/competencies").get_json()
    assert own["learner"]["uid"] == cohort_site["learner"].uid
    accounts.update_user(cohort_site["learner"], language="en")
    english = client.get("/competencies").get_data(as_text=True)
    assert "My competencies" in english and "Proficient needs 80 % or more" in english


def test_roles_are_kept_apart(cohort_site, client, login_as, make_user):
    cid = cohort_site["cohort"].id
    login_as(user=cohort_site["learner"])
    assert client.get(f"/teach/cohorts/{cid}/competencies").status_code == 403
    assert_api_error(client.get(f"/api/v1/cohorts/{cid}/competencies"), 403)
    client.delete("/api/v1/session", headers=api_headers(client))
    login_as("instructor")  # teaches another cohort
    assert client.get(f"/teach/cohorts/{cid}/competencies").status_code == 404
    assert_api_error(client.get(f"/api/v1/cohorts/{cid}/competencies"), 404, "not_found")
    other = cohort_site["learner"].id
    assert client.get(f"/teach/cohorts/{cid}/competencies/{other}").status_code == 404


def test_decide_command_catches_up_levels(cohort_site, runner):
    learner = cohort_site["learner"]
    _pass_quiz(learner)
    Event.delete().where(Event.verb == "assessed").execute()
    result = runner("cpd", "competencies", "decide")
    assert result.exit_code == 0, result.output
    assert "1 levels changed" in result.output


def test_a_pack_edited_in_the_browser_keeps_its_framework_and_codes(app, tmp_path):
    from content_packs.authoring import publish
    from content_packs.catalog import competency_data

    install_sample(app, tmp_path)
    home = app.config["KRU_HOME"]
    draft = publish.open_pack("classroom-reading", home, "instructor")
    publish.publish(draft.id, app.config["KRU"], home, "instructor")
    data = competency_data()
    assert data.frameworks["CTPS"].sample is True
    assert data.item_codes["classroom-reading/check-groups"] == ("CTPS.1.3",)
    assert "classroom-reading/plan-reading-lesson" in data.named_items
