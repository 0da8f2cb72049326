"""A course's completion rule from its pack (issue 16): the sample pack's 80 % attendance,
its certificate hours and session plan, and the rule as an input to completion."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from content_packs.build import build_pack
from content_packs.demo import SAMPLE
from edge_server.cpd import attendance, rules
from tests.packs_factory import install

COURSE = "classroom-reading/classroom-reading"
TZ = attendance.zone("Asia/Phnom_Penh")


@pytest.fixture
def sample(app, tmp_path):
    out = tmp_path / "sample.zip"
    build_pack(SAMPLE, out)
    install(app, out)


def test_sample_pack_sets_attendance_certificate_and_session_plan(sample):
    rule = rules.course_rule(COURSE)
    assert rule.attendance == 0.8
    assert rule.certificate_hours == 12
    assert rule.certificate_title["en"].startswith("CPD certificate")
    assert len(rule.sessions) == 3 and rule.sessions[0]["items"] == ["reading-corner-plan"]


def test_a_course_without_rules_has_none(app):
    assert rules.course_rule("nopack/nocourse") == rules.CourseRule()


@pytest.mark.parametrize(
    ("marks", "met"),
    [
        (["present"] * 4 + ["absent"], True),  # 4/5 = 80 %
        (["present"] * 3 + ["absent"] * 2, False),  # 60 %
        (["present", "late", "late", "excused", "absent"], False),  # 3/4 = 75 %
        (["present"] * 4 + ["excused"], True),  # 4/4
    ],
)
def test_attendance_share_decides_with_items_done(sample, make_user, make_cohort, marks, met):
    learner = make_user()
    cohort = make_cohort(learners=[learner])
    for i, status in enumerate(marks):
        when = (datetime.now(TZ) - timedelta(days=10 - i)).strftime("%Y-%m-%dT%H:%M")
        s = attendance.schedule(cohort, title=f"S{i}", local_start=when, tz=TZ, course=COURSE)
        attendance.mark(s, learner, status, by=None)
    status = rules.rule_status(learner, COURSE, items_done=True)
    assert status.met is met
    assert rules.rule_status(learner, COURSE, items_done=False).met is False


def test_no_session_held_yet_does_not_meet_an_attendance_rule(sample, make_user, make_cohort):
    learner = make_user()
    make_cohort(learners=[learner])
    assert rules.rule_status(learner, COURSE, items_done=True).met is False
