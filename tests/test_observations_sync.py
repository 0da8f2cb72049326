"""Issue 15: a site's reviewed work and practicum observations reach a real central server
through the sync agent, and central's dashboard shows them (tasks and points per domain)."""

from __future__ import annotations

import json
import os
import re

import requests

from tests.observe_support import FORM, filled, install_practicum
from tests.sync_support import make_site, run_agent
from tests.tasks_support import ALL_CLEAR, BELOW, SAMPLE, TASK
from tests.test_sync_decisions_end_to_end import PASSWORD, central, central_rows  # noqa: F401


def _work_on_site(site, tmp_path) -> dict[str, str]:
    """Two student teachers hand in work, which is reviewed; a mentor observes one twice."""
    from content_packs.build import build_pack
    from content_packs.install import install_pack
    from edge_server import accounts
    from edge_server.accounts.models import User
    from edge_server.tasks import observations, service

    db = site.open()
    try:
        build_pack(SAMPLE, tmp_path / "sample.zip")
        install_pack(tmp_path / "sample.zip", site.settings, site.home)
        install_practicum(site.settings, site.home, tmp_path)
        teacher = accounts.create_user("sokha", PASSWORD, role="instructor")
        mentor = accounts.create_user("vanna", PASSWORD, role="mentor")
        cohort = accounts.create_cohort("TEC Kandal 2026")
        accounts.add_to_cohort(cohort, teacher)
        for name, rubric, decision in (
            ("dara", ALL_CLEAR, "accepted"),
            ("sophea", BELOW, "returned"),
        ):
            learner = accounts.create_user(name, PASSWORD)
            accounts.add_to_cohort(cohort, learner)
            work = site.home.tmp / f"{name}.pdf"
            work.parent.mkdir(parents=True, exist_ok=True)
            work.write_bytes(b"%PDF-1.5\n" + os.urandom(20_000))
            row, _new = service.submit(
                learner, TASK, [service.Incoming(work, "plan.pdf")], "", site.settings, site.home
            )
            service.review(teacher, row.id, rubric, "Seen.", decision)
        dara = accounts.get_user(username="dara")
        accounts.assign_mentor(teacher, mentor, dara)
        observations.record(mentor, filled(dara.id))  # domains 3/4, 10/12, 1/4, 4/4
        best = {c: "accomplished" for c in filled(dara.id)["rubric"]}
        observations.record(teacher, filled(dara.id, rubric=best))  # 4/4 everywhere
        observations.reflect(dara, observations.of_learner(dara, dara.id)[0].id, "ខ្ញុំនឹងកែ។")
        return {u.username: u.uid for u in User.select()}
    finally:
        db.close()


def test_observations_and_reviews_reach_central_and_its_dashboard(tmp_path, central):  # noqa: F811
    server, url = central
    site = make_site(tmp_path, "tec-kandal")
    server.provision(site, name="TEC Kandal")
    uids = _work_on_site(site, tmp_path)

    result = run_agent(site, "")
    assert result.returncode == 0, result.stderr

    rows = central_rows(
        server,
        url,
        "SELECT user_uid, verb, object, result, context FROM central_events "
        "WHERE verb IN ('observed', 'reflected')",
    )
    observed = [r for r in rows if r[1] == "observed"]
    assert {r[0] for r in observed} == {uids["dara"]} and len(observed) == 2
    assert {r[2] for r in rows} == {FORM}
    criteria = json.loads(observed[0][3])["extensions"]["https://kru.example/xapi/criteria"]
    assert {c["competency"] for c in criteria} == {
        "CTPS.1.1",
        "CTPS.2.1",
        "CTPS.2.2",
        "CTPS.2.3",
        "CTPS.3.1",
        "CTPS.4.1",
    }
    assert {json.loads(r[4])["observer"] for r in observed} == {uids["vanna"], uids["sokha"]}
    (reflection,) = [r for r in rows if r[1] == "reflected"]
    assert json.loads(reflection[4])["text"] == "ខ្ញុំនឹងកែ។"

    server.cli("user", "add", "--username", "ministry", "--password", PASSWORD, "--role", "viewer")
    with requests.Session() as http:
        token = http.get(server.url + "/api/v1/session", timeout=10).json()["csrf_token"]
        signed = http.post(
            server.url + "/api/v1/session",
            json={"username": "ministry", "password": PASSWORD},
            headers={"X-CSRFToken": token},
            timeout=10,
        )
        assert signed.status_code == 200, signed.text
        http.post(server.url + "/language", data={"lang": "en", "csrf_token": token}, timeout=10)
        page = http.get(server.url + "/", timeout=10).text
    section = page[page.index('id="practicum"') :]
    section = section[: section.index("</table>")]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", section)]
    # site, handed in, accepted, passed, returned, observations, observed, domains 1-4
    assert cells[0] == "TEC Kandal"
    assert cells[1:7] == ["2", "1", "1", "1", "2", "1"] or cells[1:7] == [
        "២",
        "១",
        "១",
        "១",
        "២",
        "១",
    ]
    # (3+4)/8, (10+12)/24, (1+4)/8, (4+4)/8
    assert cells[7:] in (["88%", "92%", "62%", "100%"], ["៨៨%", "៩២%", "៦២%", "១០០%"])
