"""Tasks on the site: the pack format, pages, the queue, backups, quota and retention."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from content_packs.build import build_pack
from content_packs.manifest import parse_manifest
from edge_server.base.datahome import DataHome
from edge_server.base.db import db
from edge_server.site.backup import backup_site, restore_site
from edge_server.tasks import storage
from edge_server.tasks.models import Submission
from tests.conftest import form_csrf
from tests.tasks_support import ALL_CLEAR, SAMPLE, TASK, install_sample, pdf_bytes, png_bytes
from tests.test_tasks_api import review, signin, submit


@pytest.fixture
def site(app, tmp_path, make_user, make_cohort):
    install_sample(app, tmp_path)
    learner = make_user("learner")
    teacher = make_user("instructor")
    cohort = make_cohort(learners=[learner], instructors=[teacher])
    return {"learner": learner, "teacher": teacher, "admin": make_user("admin"), "cohort": cohort}


def test_the_sample_pack_has_a_task_with_a_rubric(tmp_path):
    out = tmp_path / "sample.zip"
    manifest = build_pack(SAMPLE, out)
    items = [i for c in manifest["courses"] for m in c["modules"] for i in m["items"]]
    task = next(i for i in items if i["type"] == "task")
    assert task["slug"] == "plan-reading-lesson"
    assert task["task"]["accept"] == ["document", "image"]
    assert [c["id"] for c in task["task"]["rubric"]] == ["objective", "timing", "support"]
    assert task["task"]["rubric"][0]["levels"][2]["label"]["km"] == "ច្បាស់លាស់"
    with zipfile.ZipFile(out) as zf:
        assert "tasks/plan-reading-lesson.toml" not in zf.namelist()  # data, not a file


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda t: t["rubric"][0]["levels"].append(dict(t["rubric"][0]["levels"][0])), "twice"),
        (lambda t: t.update(accept=["spreadsheet"]), "accept"),
        (lambda t: t["rubric"].clear(), "rubric"),
        (lambda t: t.update(due="next week"), "due"),
    ],
)
def test_a_wrong_task_is_refused_by_the_manifest_checks(tmp_path, change, where):
    manifest = build_pack(SAMPLE, tmp_path / "s.zip")
    item = next(
        i
        for c in manifest["courses"]
        for m in c["modules"]
        for i in m["items"]
        if i["type"] == "task"
    )
    change(item["task"])
    parsed, problems = parse_manifest(json.dumps(manifest).encode())
    assert parsed is None and problems
    assert any(where in p.params.get("where", "") + p.params.get("what", "") for p in problems)


def test_the_learner_page_shows_the_task_and_the_form(client, site):
    signin(client, site["learner"])
    page = client.get("/learn/items/classroom-reading/plan-reading-lesson").get_data(as_text=True)
    assert 'id="task-submit"' in page and 'type="file" name="file" multiple' in page
    assert "image/*" in page and "គោលបំណង" in page  # the rubric, in Khmer
    assert 'id="mark-done"' not in page


def test_the_page_form_submits_without_javascript(client, site):
    signin(client, site["learner"])
    url = "/learn/items/classroom-reading/plan-reading-lesson"
    token = form_csrf(client.get(url).get_data(as_text=True))
    from io import BytesIO

    response = client.post(
        f"{url}/submissions",
        data={
            "csrf_token": token,
            "item": TASK,
            "note": "n",
            "file": (BytesIO(pdf_bytes()), "p.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert Submission.select().count() == 1


def test_the_queue_is_oldest_first_and_filters_by_status(client, site, make_user, app):
    from edge_server import accounts

    others = [make_user("learner") for _ in range(2)]
    for user in others:
        accounts.add_to_cohort(site["cohort"], user)
    ids = []
    for user in [site["learner"], *others]:
        signin(client, user)
        ids.append(submit(client, [("p.pdf", pdf_bytes())]).get_json()["id"])
    signin(client, site["teacher"])
    review(client, ids[1], ALL_CLEAR)
    page = client.get(f"/teach/cohorts/{site['cohort'].id}/submissions").get_data(as_text=True)
    assert page.index(ids[0]) < page.index(ids[2]) and ids[1] not in page
    accepted = client.get(
        f"/api/v1/cohorts/{site['cohort'].id}/submissions?status=accepted"
    ).get_json()["submissions"]
    assert [e["id"] for e in accepted] == [ids[1]] and accepted[0]["kind"] == "task"
    csv = client.get(f"/teach/cohorts/{site['cohort'].id}/submissions.csv").get_data(as_text=True)
    assert csv.count("\n") == 4 and "accepted" in csv
    import csv
    import io

    text = client.get(f"/teach/cohorts/{site['cohort'].id}/progress.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("រៀបចំផែនការមេរៀនអាន ៤០ នាទី (score %)")  # Khmer: the default
    by_user = {r[0]: r for r in rows[1:]}
    assert by_user[others[0].username][column - 1 : column + 1] == ["ជាប់", "100"]
    assert by_user[site["learner"].username][column - 1] == "កំពុងរៀន"


def test_the_review_page_shows_the_files_and_saves_the_rubric(client, site):
    signin(client, site["learner"])
    sid = submit(client, [("photo.png", png_bytes(200)), ("plan.pdf", pdf_bytes())]).get_json()[
        "id"
    ]
    signin(client, site["teacher"])
    page = client.get(f"/teach/submissions/{sid}").get_data(as_text=True)
    assert f'<img src="/submissions/{sid}/files/0"' in page
    assert f'<iframe class="pdf" src="/submissions/{sid}/files/1"' in page
    form = {f"c-{k}": v for k, v in ALL_CLEAR.items()}
    form.update(csrf_token=form_csrf(page), comment="Clear plan.", decision="accepted")
    response = client.post(f"/teach/submissions/{sid}/review", data=form)
    assert response.status_code == 302
    row = Submission.get_by_id(sid)
    assert (row.status, row.score, row.comment) == ("accepted", 1.0, "Clear plan.")


def test_the_admin_page_shows_space_and_retention(client, site):
    signin(client, site["learner"])
    submit(client, [("photo.png", png_bytes())])
    signin(client, site["admin"])
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="submissions-storage"' in page and "20480" not in page  # Khmer digits
    assert "២០៤៨០" in page


def test_backups_carry_submitted_files_and_restore_them(client, site, app, tmp_path):
    signin(client, site["learner"])
    image = png_bytes()
    sid = submit(client, [("photo.png", image)]).get_json()["id"]
    stick = tmp_path / "stick"
    stick.mkdir()
    home = app.config["KRU_HOME"]
    made = backup_site(home, stick)
    manifest = json.loads((made / "kru-backup.json").read_text())
    assert len(manifest["submissions"]) == 1
    db.close()
    fresh = DataHome(tmp_path / "new-card")
    restore_site(fresh, made)
    import hashlib

    digest = hashlib.sha256(image).hexdigest()
    assert (fresh.submissions / digest[:2] / digest).read_bytes() == image
    assert sid


def test_retention_removes_old_accepted_files_and_keeps_the_record(client, site, app):
    signin(client, site["learner"])
    sid = submit(client, [("photo.png", png_bytes(300))]).get_json()["id"]
    signin(client, site["teacher"])
    review(client, sid, ALL_CLEAR)
    home = app.config["KRU_HOME"]
    assert storage.prune(home, 30) == 0  # reviewed today
    assert storage.prune(home, 30, now=datetime.now(UTC) + timedelta(days=31)) == 1
    assert not [p for p in home.submissions.rglob("*") if p.is_file()]
    shown = client.get(f"/api/v1/submissions/{sid}").get_json()
    assert shown["files"][0]["kept"] is False and shown["review"]["score"] == 1.0
    with client.get(f"/submissions/{sid}/files/0") as gone:
        assert gone.status_code == 404


def test_the_cli_shows_usage_and_prunes_by_the_retention_setting(
    client, site, app, runner, monkeypatch
):
    signin(client, site["learner"])
    sid = submit(client, [("photo.png", png_bytes(300))]).get_json()["id"]
    signin(client, site["teacher"])
    review(client, sid, ALL_CLEAR)
    db.execute_sql(
        "UPDATE task_submissions SET reviewed_at = ? WHERE id = ?",
        [(datetime.now(UTC) - timedelta(days=40)).isoformat(), sid],
    )
    db.close()
    used = runner("submissions", "usage")
    assert used.exit_code == 0 and used.output.startswith("1 files") and "forever" in used.output
    assert runner("submissions", "prune").output == "removed 0 files\n"  # 0 days: keep all
    monkeypatch.setenv("KRU_SUBMISSIONS_RETENTION_DAYS", "30")
    assert runner("submissions", "prune").output == "removed 1 files\n"


def test_the_submissions_tables_are_rebuilt_from_the_event_log(client, site, app):
    from edge_server.tasks import replay

    signin(client, site["learner"])
    first = submit(client, [("p.pdf", pdf_bytes())], note="v1").get_json()["id"]
    signin(client, site["teacher"])
    review(client, first, ALL_CLEAR, decision="returned", comment="More.")
    signin(client, site["learner"])
    second = submit(client, [("photo.png", png_bytes(200))]).get_json()["id"]
    before = {sid: client.get(f"/api/v1/submissions/{sid}").get_json() for sid in (first, second)}
    db.execute_sql("DELETE FROM task_files")
    db.execute_sql("DELETE FROM task_submissions")
    assert replay.rebuild(app.config["KRU_HOME"]) == {"submissions": 2, "files": 2}
    after = {sid: client.get(f"/api/v1/submissions/{sid}").get_json() for sid in (first, second)}
    assert after == before
