"""After a rollback, a site admin on a Khmer phone reads what came back, in words.

The demo site's database is the restored one; the failed version's copy is made from it and
edited as a failed version would (a new account and its learning records, passwords changed,
a submission graded, two accounts that swapped user names). The real
``deploy/raspberrypi/bin/kru-carry-back`` brings it back and its report goes to
releases/state.json as kru-upgrade writes it; then the Site page is opened at 360 px in Khmer.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from sync import release_record as rr
from tests.browser.harness import horizontal_overflow, km, screenshot_dir, sign_in

DEMO_CONTENT = False
ROOT = Path(__file__).resolve().parents[2]
CARRY_BACK = ROOT / "deploy" / "raspberrypi" / "bin" / "kru-carry-back"
AFTER = "2099-01-01T09:00:00Z"  # later than any row the demo seed wrote


@pytest.fixture(scope="module")
def rolled_back(site) -> dict:
    db = site.data_dir / "kru.sqlite3"
    failed = site.data_dir / "backups" / "failed-upgrade-0.2.0-20261202T100000Z.sqlite3"
    failed.parent.mkdir(exist_ok=True)
    with closing(sqlite3.connect(db)) as live, closing(sqlite3.connect(failed)) as copy:
        live.backup(copy)
    with closing(sqlite3.connect(failed)) as con:
        people = con.execute(
            "SELECT id, username FROM users WHERE role = 'learner' ORDER BY id"
        ).fetchall()
        (a, name_a), (b, name_b) = people[-2], people[-1]
        three = ", ".join(str(p[0]) for p in people[:3])
        con.executescript(
            f"""
            INSERT INTO users (id, uid, username, display_name, role, password_hash,
                               created_at, updated_at)
                VALUES (900, 'uid-900', 'newlearner', 'New', 'learner', 'h', '{AFTER}',
                        '{AFTER}');
            INSERT INTO events (id, user_id, verb, object, server_ts, boot_id)
                VALUES ('after-1', 900, 'experienced', 'c/i', '{AFTER}', 'b'),
                       ('after-2', 900, 'experienced', 'c/j', '{AFTER}', 'b');
            -- Three learners changed their password (the admin signs in below).
            UPDATE users SET password_hash = 'changed', updated_at = '{AFTER}'
                WHERE id IN ({three});
            """
        )
        # Two accounts swapped their user names: neither fits while the other holds it.
        for uid, name in ((a, "swap"), (b, name_a), (a, name_b)):
            con.execute(
                "UPDATE users SET username = ?, updated_at = ? WHERE id = ?", (name, AFTER, uid)
            )
        con.commit()
    done = subprocess.run(
        [sys.executable, str(CARRY_BACK), str(db), str(failed)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    state = {
        "state": "failed",
        "version": "0.2.0",
        "sha256": "0" * 64,
        "code": "health_failed",
        "reason": "Kru 0.2.0 did not answer /healthz within 180 s; rolled back to 0.1.0",
        "carried_back": report["carried"],
        "merged_back": report["merged"],
        "not_carried": report["not_carried"],
        "failed_db": str(failed),
    }
    (site.data_dir / "releases").mkdir(exist_ok=True)
    (site.data_dir / "releases" / "state.json").write_text(json.dumps(state))
    return report


def test_the_site_page_says_in_khmer_what_a_rollback_brought_back_and_kept(
    page, rolled_back, tmp_path
) -> None:
    assert rolled_back["carried"] == {"events": 2, "users": 1}
    assert rolled_back["merged"] == {"users": 3}
    assert {(n["table"], n["why"]) for n in rolled_back["not_carried"]} == {("users", "conflict")}

    sign_in(page, "admin")
    if page.locator("html").get_attribute("lang") != "km":
        with page.expect_navigation():
            page.locator("header button[name=lang][value=km]").click()
    page.goto("/admin/#kru-version")
    card = page.locator("#kru-version")
    back = card.locator("#carried-back")
    accounts = back.locator('li[data-table="users"]')
    assert accounts.inner_text() == (
        f"{km('accounts')}: {km('new: %(num)s', num='១')}, {km('changes kept: %(num)s', num='៣')}"
    )
    records = back.locator('li[data-table="events"]').inner_text()
    assert records == f"{km('learning records')}: {km('new: %(num)s', num='២')}"
    kept = card.locator('#not-carried-back li[data-why="conflict"]').inner_text()
    assert kept.startswith(f"{km('accounts')}: {km('rows: %(num)s', num='២')}")
    assert km(rr.NOT_CARRIED_REASONS["conflict"]) in kept
    text = card.inner_text()
    for table in ("users", "events", "task_submissions"):
        assert table not in text  # human names, not the database's
    assert horizontal_overflow(page) == 0
    card.scroll_into_view_if_needed()
    page.evaluate("document.fonts.ready.then(() => true)")
    card.screenshot(
        path=str(screenshot_dir(tmp_path, "site") / "km-site-carry-back.png"),
        animations="disabled",
    )
