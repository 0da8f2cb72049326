"""Face-to-face sessions and attendance (issue 16 items 1-2): scheduling in the site's time
zone, one tap per learner, check-in by code, the derived event ids, dashboard and CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from edge_server.base.db import db
from edge_server.cpd import attendance
from edge_server.cpd.models import Attendance, F2FSession
from edge_server.learning import assignments
from edge_server.learning.models import Event
from tests.conftest import form_csrf
from tests.learning_catalog import COURSE

TZ = attendance.zone("Asia/Phnom_Penh")


def _local(delta: timedelta) -> str:
    return (datetime.now(TZ) + delta).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def group(app, make_user, make_cohort, make_catalog):
    make_catalog(open_course=False)
    learners = [make_user(display_name=f"សិស្ស {i:02d}", language="en") for i in range(40)]
    teacher = make_user(role="instructor", language="en")
    cohort = make_cohort(learners=learners, instructors=[teacher])
    assignments.assign(cohort, COURSE, None, teacher)
    return {"cohort": cohort, "learners": learners, "teacher": teacher}


def _schedule(group, delta=timedelta(hours=-1), **kw):
    return attendance.schedule(
        group["cohort"],
        title=kw.pop("title", "ការអានជាក្រុម"),
        local_start=_local(delta),
        tz=TZ,
        place=kw.pop("place", "បន្ទប់ ៣"),
        course=COURSE,
        by=group["teacher"],
        **kw,
    )


def test_instructor_schedules_a_session_stored_in_utc(client, login_as, group):
    login_as(user=group["teacher"])
    page = client.get(f"/teach/cohorts/{group['cohort'].id}/sessions").get_data(as_text=True)
    response = client.post(
        f"/teach/cohorts/{group['cohort'].id}/sessions",
        data={
            "csrf_token": form_csrf(page),
            "title": "Reading circles",
            "date": "2026-05-04",
            "time": "08:30",
            "minutes": "90",
            "place": "Room 3",
            "course": COURSE,
        },
    )
    assert response.status_code == 303
    s = F2FSession.get()
    assert s.starts_at == "2026-05-04T01:30:00+00:00"  # 08:30 in Phnom Penh (UTC+7)
    assert (s.title, s.place, s.minutes, s.course) == ("Reading circles", "Room 3", 90, COURSE)
    assert re.fullmatch(r"[A-Z0-9]{6}", s.code)
    listed = client.get(f"/teach/cohorts/{group['cohort'].id}/sessions").get_data(as_text=True)
    assert "Reading circles" in listed and "2026-05-04 08:30" in listed


def test_a_session_without_title_or_time_is_refused_and_nothing_stored(client, login_as, group):
    login_as(user=group["teacher"])
    page = client.get(f"/teach/cohorts/{group['cohort'].id}/sessions").get_data(as_text=True)
    response = client.post(
        f"/teach/cohorts/{group['cohort'].id}/sessions",
        data={"csrf_token": form_csrf(page), "title": "x", "date": "", "time": ""},
        follow_redirects=True,
    )
    assert "Give the session" in response.get_data(as_text=True)
    assert F2FSession.select().count() == 0


def test_learners_and_other_instructors_cannot_schedule(client, login_as, make_user, group):
    login_as(role="instructor")
    assert client.get(f"/teach/cohorts/{group['cohort'].id}/sessions").status_code == 403


def test_learner_sees_upcoming_sessions_on_home(client, login_as, group):
    _schedule(group, timedelta(days=2), title="Next circle")
    _schedule(group, timedelta(days=-3), title="Long past")
    login_as(user=group["learners"][0])
    html = client.get("/learn/").get_data(as_text=True)
    box = re.search(r'id="upcoming-sessions">(.*?)</section>', html, re.S).group(1)
    assert "Next circle" in box and "Long past" not in box


def test_one_tap_marks_and_the_same_tap_again_makes_no_second_event(client, login_as, group):
    s = _schedule(group)
    login_as(user=group["teacher"])
    page = client.get(f"/teach/sessions/{s.id}").get_data(as_text=True)
    assert page.count('class="marks"') == 40
    token = form_csrf(page)
    learner = group["learners"][5]
    for _ in range(2):
        r = client.post(
            f"/teach/sessions/{s.id}/marks",
            data={"csrf_token": token, "user_id": learner.id, "status": "late"},
            headers={"X-Requested-With": "fetch"},
        )
        assert r.status_code == 200
    assert r.get_json() == {"user_id": learner.id, "status": "late", "changed": False}
    events = list(Event.select().where(Event.verb == "attended"))
    assert len(events) == 1
    assert events[0].id == str(
        uuid.uuid5(attendance.ATTENDANCE_NAMESPACE, f"{s.uid}:{learner.uid}:1")
    )
    assert json.loads(events[0].result) == {"response": "late"}
    assert events[0].object == f"urn:kru:session:{s.uid}"


def test_latest_mark_wins_and_each_change_is_an_event(app, group):
    s = _schedule(group)
    learner = group["learners"][0]
    for status in ("absent", "present", "excused"):
        attendance.mark(s, learner, status, by=group["teacher"])
    assert Attendance.get().status == "excused"
    verbs = [json.loads(e.result)["response"] for e in Event.select().order_by(Event.seq)]
    assert verbs == ["absent", "present", "excused"]


@pytest.mark.parametrize("status", ["", "here", "PRESENT"])
def test_unknown_status_is_refused_with_a_json_error(client, login_as, group, status):
    s = _schedule(group)
    login_as(user=group["teacher"])
    token = form_csrf(client.get(f"/teach/sessions/{s.id}").get_data(as_text=True))
    r = client.post(
        f"/teach/sessions/{s.id}/marks",
        data={"csrf_token": token, "user_id": group["learners"][0].id, "status": status},
        headers={"X-Requested-With": "fetch"},
    )
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_mark"
    assert Event.select().count() == 0


def test_marking_someone_outside_the_cohort_is_refused(client, login_as, make_user, group):
    s = _schedule(group)
    stranger = make_user()
    login_as(user=group["teacher"])
    token = form_csrf(client.get(f"/teach/sessions/{s.id}").get_data(as_text=True))
    r = client.post(
        f"/teach/sessions/{s.id}/marks",
        data={"csrf_token": token, "user_id": stranger.id, "status": "present"},
        headers={"X-Requested-With": "fetch"},
    )
    assert r.status_code == 400 and Event.select().count() == 0


def test_check_in_by_code_only_while_open(client, login_as, group):
    s = _schedule(group)
    learner = group["learners"][3]
    login_as(user=learner)
    page = client.get(f"/checkin?code={s.code.lower()}").get_data(as_text=True)
    assert f'value="{s.code}"' in page
    closed = client.post("/checkin", data={"csrf_token": form_csrf(page), "code": s.code})
    assert closed.status_code == 400 and "closed" in closed.get_data(as_text=True)
    wrong = client.post("/checkin", data={"csrf_token": form_csrf(page), "code": "ZZZZZZ"})
    assert wrong.status_code == 400 and "No session has this code" in wrong.get_data(True)
    assert Event.select().count() == 0
    attendance.set_checkin(s, True)
    ok = client.post("/checkin", data={"csrf_token": form_csrf(page), "code": s.code})
    assert ok.status_code == 200 and 'id="checked-in"' in ok.get_data(as_text=True)
    assert Attendance.get().status == "present"
    client.post("/checkin", data={"csrf_token": form_csrf(page), "code": s.code})
    assert Event.select().count() == 1


def test_check_in_keeps_the_instructors_late_mark(app, group):
    s = _schedule(group)
    attendance.set_checkin(s, True)
    learner = group["learners"][0]
    attendance.mark(s, learner, "late", by=group["teacher"])
    attendance.check_in(learner, s.code)
    assert Attendance.get().status == "late"


def test_learner_of_another_cohort_cannot_check_in(app, make_user, make_cohort, group):
    s = _schedule(group)
    attendance.set_checkin(s, True)
    other = make_user()
    make_cohort(learners=[other])
    with pytest.raises(attendance.PermissionDenied):
        attendance.check_in(other, s.code)


def test_qr_code_is_an_svg_of_the_check_in_url(client, login_as, group):
    s = _schedule(group)
    login_as(user=group["teacher"])
    r = client.get(f"/teach/sessions/{s.id}/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert r.get_data(as_text=True).lstrip().startswith("<svg")
    login_as(user=group["learners"][0])
    assert client.get(f"/teach/sessions/{s.id}/qr.svg").status_code == 403


def test_dashboard_and_csv_show_attendance(client, login_as, group):
    s1 = _schedule(group, timedelta(days=-2), title="One")
    s2 = _schedule(group, timedelta(days=-1), title="Two")
    dara = group["learners"][0]
    attendance.mark(s1, dara, "present", by=group["teacher"])
    attendance.mark(s2, dara, "absent", by=group["teacher"])
    login_as(user=group["teacher"])
    html = client.get(f"/teach/cohorts/{group['cohort'].id}").get_data(as_text=True)
    row = re.search(rf'<tr data-learner="{dara.username}"><td>.*?</tr>', html, re.S).group(0)
    assert "50%" in row and "(1/2)" in row
    body = client.get(f"/teach/cohorts/{group['cohort'].id}/attendance.csv").get_data(True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:7] == ["session", "title", "local_time", "place", "username", "name", "status"]
    mine = [r for r in rows[1:] if r[4] == dara.username]
    assert [(r[1], r[6]) for r in mine] == [("One", "present"), ("Two", "absent")]
    events = client.get(f"/teach/cohorts/{group['cohort'].id}/events.csv").get_data(True)
    assert events.count(",attended,urn:kru:session:") == 2


def test_share_leaves_out_excused_and_future_sessions(app, group):
    dara = group["learners"][0]
    marks = ["present", "late", "excused", "absent", "present"]
    for i, status in enumerate(marks):
        s = _schedule(group, timedelta(days=-10 + i), title=f"S{i}")
        attendance.mark(s, dara, status, by=group["teacher"])
    _schedule(group, timedelta(days=5), title="Future")
    share = attendance.learner_attendance(dara.id, [group["cohort"].id], COURSE)
    assert (share.held, share.attended, share.excused) == (5, 3, 1)
    assert share.fraction == pytest.approx(0.75)


def test_time_zone_setting_changes_what_the_form_means(app, group):
    s = attendance.schedule(
        group["cohort"], title="T", local_start="2026-01-01T09:00", tz=attendance.zone("UTC")
    )
    assert s.starts_at == "2026-01-01T09:00:00+00:00"
    with pytest.raises(attendance.SessionError):
        attendance.zone("Mars/Olympus")
    assert db.is_closed() is False
    assert datetime.fromisoformat(s.starts_at).tzinfo == UTC


def test_rebuilding_progress_ignores_attendance_events(app, group):
    from edge_server.learning import progress
    from edge_server.learning.models import Progress

    s = _schedule(group)
    attendance.mark(s, group["learners"][0], "present", by=group["teacher"])
    counts = progress.rebuild()
    assert counts["summaries"] == 0
    assert Progress.select().count() == 0


def test_the_home_reads_upcoming_sessions_and_new_replies_in_one_query_as_two_did(group):
    """cpd/notices.py reads what ``upcoming_for`` and ``new_replies`` read, in one query:
    the same sessions in the same order, with fields of the same values and types."""
    from playhouse.test_utils import count_queries

    from edge_server.cpd import discussion, notices

    _schedule(group, timedelta(days=2), title="Next circle", minutes=90)
    _schedule(group, timedelta(hours=-1), title="Now", items=[COURSE + "-x"])
    _schedule(group, timedelta(days=-3), title="Long past")
    opened = _schedule(group, timedelta(days=1), title="Open for check-in")
    opened.checkin_open = True
    opened.save()
    learner = group["learners"][3]
    now = datetime.now(UTC)
    with count_queries() as counted:
        found = notices.for_learner(learner, TZ, now=now)
    assert counted.count == 1
    expected = attendance.upcoming_for(learner, TZ, now=now)
    assert [v.session.title for v in found.upcoming] == ["Now", "Open for check-in", "Next circle"]
    assert found.upcoming == expected
    for got, want in zip(found.upcoming, expected, strict=True):
        assert got.session.__data__ == want.session.__data__
        assert {k: type(v) for k, v in got.session.__data__.items()} == {
            k: type(v) for k, v in want.session.__data__.items()
        }
    assert found.new_replies == discussion.new_replies(learner) == 0
    assert notices.for_learner(group["teacher"], TZ, now=now + timedelta(days=30)).upcoming == []
