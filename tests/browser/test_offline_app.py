"""Issue 23, "Done when": the installable app studies a kept course without the network.

Chromium trusting the Pebble root opens the site over HTTPS (tests/browser/https_world.py),
the app is installable, a learner keeps a course, the phone leaves the Wi-Fi (``wifi_off``:
its browser is told it is offline and its link to the site is cut), two lessons and a quiz
are done from the phone, the network comes back, and the Pi holds each event once with the
quiz graded. Also: freeing a kept course, a new pack version updating a kept course at the
next visit, the mentor's observation form opened and filled with no network.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import SITE_ENV, km, screenshot_dir, sign_in
from tests.browser.https_world import (
    NEEDS_HTTPS_WORLD,
    installed_phone,
    phone,
    queued,
    wifi_off,
    wifi_on,
)
from tests.observe_support import FORM, MENTOR_PASSWORD, fill_in_form, seed_practicum
from tests.sync_support import KRU

pytestmark = NEEDS_HTTPS_WORLD

ROOT = Path(__file__).resolve().parents[2]
PACK = "classroom-reading"
COURSE = f"/learn/courses/{PACK}/classroom-reading"
LESSONS = [f"{PACK}/reading-classroom", f"{PACK}/routines-and-rules"]
QUIZ = f"{PACK}/check-groups"
QUEUED = (
    "Your answers are saved on this phone. They will be graded when the phone is back on the "
    "Kru Wi-Fi, and the result will show here. This attempt counts towards your number of "
    "attempts when it arrives."
)
GRADED = "Your answers sent from this phone were graded: attempt %(number)s, score %(score)s."


@pytest.fixture(scope="module")
def world(https_world: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    seed_practicum(https_world["site"].home.root, SITE_ENV)
    https_world["shots"] = screenshot_dir(tmp_path_factory.mktemp("offline-shots"), "offline")
    return https_world


@pytest.fixture(autouse=True)
def back_on_the_wifi(world: dict) -> Iterator[None]:
    """Each test starts with the radio on, whatever the last one left."""
    world["radio"].on()
    yield
    world["radio"].on()


def rows(world: dict, sql: str, *params: Any) -> list[tuple]:
    uri = f"file:{world['site'].home.database}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as con:
        return con.execute(sql, params).fetchall()


def shot(world: dict, page: Any, name: str) -> None:
    """Photograph the page as docs/screenshots/offline/<name>.png (see screenshot_dir)."""
    page.screenshot(path=str(world["shots"] / f"{name}.png"), full_page=True)


def with_worker(page: Any) -> None:
    """Wait until the app's service worker is active and controls ``page``.

    The first page of a visit registers the worker; the pages after it are the worker's
    (the worker claims open pages too, but not always before the test looks), so the test
    opens the page again, as the learner's next tap would.
    """
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if page.evaluate("() => navigator.serviceWorker.controller === null"):
        page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", polling=100)


def keep_course(world: dict, page: Any) -> dict:
    page.goto(COURSE)
    with_worker(page)
    card = page.locator("#keep")
    card.wait_for(state="visible")
    page.wait_for_function(
        "() => document.getElementById('keep-size').textContent !== ''", polling=100
    )
    size = page.locator("#keep-size").inner_text()
    assert size.startswith(
        km(
            "Size: about %(size)s (%(pages)s pages, %(files)s videos, pictures and documents)."
        ).split("%")[0]
    )
    shot(world, page, "km-offline-course-keep")
    page.get_by_role("button", name=km("Keep this course on my phone")).click()
    page.wait_for_function("() => KruKeep.kept() !== null && !KruKeep.busy()", polling=100)
    shot(world, page, "km-offline-course-kept")
    return page.evaluate("() => KruKeep.kept()")


def background_sync(context: Any, page: Any, world: dict, queue: str) -> None:
    """Have Chromium fire the worker's Background Sync for a Workbox ``queue`` now.

    Chromium fires it by itself when it sees the network come back, and sometimes also when
    the emulated offline switch is turned off, but not reliably nor soon (it backs off), so the
    test fires it through the DevTools protocol; a sync already done leaves an empty queue.
    """
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(50):  # the registrations arrive as an event
        if registrations:
            break
        page.wait_for_timeout(100)
    (reg,) = [r for r in registrations if not r.get("isDeleted")]
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": world["https"],
            "registrationId": reg["registrationId"],
            "tag": f"workbox-background-sync:{queue}",
            "lastChance": False,
        },
    )


def cache_names(page: Any) -> list[str]:
    return page.evaluate("() => caches.keys()")


def test_the_app_installs_keeps_a_course_and_studies_it_offline(
    world: dict, tmp_path: Path
) -> None:
    context = installed_phone(world, tmp_path / "phone-profile")
    page = context.new_page()
    sign_in(page, "learner5")
    with_worker(page)

    # Installable: Chromium's own check of the manifest, icons and service worker.
    cdp = context.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest") and not manifest["errors"]

    kept = keep_course(world, page)
    assert kept["pack_version"] == "1.0.0" and kept["bytes"] > 100_000  # pages, video, PDF
    assert any(n.startswith(f"kru-course:{PACK}/") for n in cache_names(page))
    assert km(
        "Kept on this phone: %(size)s (version %(version)s). It opens without the "
        "Wi-Fi; your work is sent when the phone is back."
    ).split("%")[0] in page.inner_text("#keep-state")
    page.goto("/learn/")  # the home screen's start page, seen once with the network
    page.close()

    # No network: the learner opens the app from the home screen and studies.
    wifi_off(context, world)
    page = context.new_page()
    assert page.goto("/learn/").from_service_worker
    with page.expect_response(lambda r: r.url.endswith(COURSE)) as opened:
        page.get_by_role("link", name="ការគ្រប់គ្រងថ្នាក់រៀនសម្រាប់ការអានថ្នាក់ដំបូង").first.click()
    assert opened.value.from_service_worker
    for lesson in LESSONS:
        assert page.goto(f"/learn/items/{lesson}").from_service_worker
        page.get_by_role("button", name=km("I have finished")).click()
        page.locator("#saved").wait_for(state="visible")
        assert page.locator("#saved").inner_text() == km("Saved on this phone")

    assert page.goto(f"/learn/items/{QUIZ}").from_service_worker
    page.locator("input[name='q-before-reading'][value='show-cover']").check()
    page.locator("input[name='q-pair-roles'][value='swap-roles']").check()
    page.locator("input[name='q-pair-roles'][value='wait-three']").check()
    page.locator("input[name='q-same-story'][value='true']").check()
    for fieldset in page.locator("fieldset.q").all()[3:]:  # any other question: first choice
        fieldset.locator("input").first.check()
    page.get_by_role("button", name=km("Submit answers")).click()
    note = page.locator("#quiz-offline")
    note.wait_for(state="visible")
    assert note.inner_text() == km(QUEUED)
    shot(world, page, "km-offline-quiz-queued")
    waiting = [e for q in queued(page).values() for e in q]
    ids = [e["id"] for e in waiting]
    assert {(e["verb"], e["object"]) for e in waiting} >= {
        ("completed", LESSONS[0]),
        ("completed", LESSONS[1]),
        ("attempted", QUIZ),
    }
    marks = ",".join("?" * len(ids))
    early = rows(
        world, f"SELECT id, verb, object, server_ts FROM events WHERE id IN ({marks})", *ids
    )
    assert early == []

    # Back on the Wi-Fi: everything goes, once, and the quiz result shows on the page.
    wifi_on(context, world)
    page.wait_for_function("() => KruEvents.pending() === 0", polling=200, timeout=30_000)
    note.locator("a").wait_for(state="visible", timeout=30_000)
    shot(world, page, "km-offline-quiz-graded")
    graded = note.inner_text()
    assert graded.startswith(km(GRADED).split("%")[0]) and km("See the answers") in graded
    assert km("Passed") in graded  # the right answers, graded on the Pi
    stored = rows(world, f"SELECT id, count(*) FROM events WHERE id IN ({marks}) GROUP BY id", *ids)
    assert sorted(i for i, _n in stored) == sorted(ids) and all(n == 1 for _i, n in stored)
    user = rows(world, "SELECT id FROM users WHERE username = 'learner5'")[0][0]
    for lesson in LESSONS:
        assert rows(
            world,
            # the phone's event; the site's own decision row (no client time) is not counted
            "SELECT count(*) FROM events WHERE user_id = ? AND verb = 'completed' AND object = ? "
            "AND client_ts IS NOT NULL",
            user,
            lesson,
        ) == [(1,)]
    (attempt,) = rows(
        world,
        "SELECT id, json_extract(result, '$.score'), json_extract(context, '$.attempt') "
        "FROM events WHERE user_id = ? AND verb = 'attempted' AND object = ?",
        user,
        QUIZ,
    )
    assert attempt[1] is not None and attempt[2] == 1  # graded on the Pi, counted as attempt 1
    assert rows(
        world,
        "SELECT count(*) FROM events WHERE user_id = ? AND verb IN ('passed', 'failed') "
        "AND json_extract(context, '$.attempt_id') = ?",
        user,
        attempt[0],
    ) == [(1,)]
    context.close()


def test_a_kept_course_can_be_removed_from_the_phone(world: dict, tmp_path: Path) -> None:
    context = installed_phone(world, tmp_path / "phone")
    page = context.new_page()
    sign_in(page, "learner4")
    kept = keep_course(world, page)
    assert kept["bytes"] > 0
    page.get_by_role("button", name=km("Remove from my phone")).click()
    page.wait_for_function("() => KruKeep.kept() === null", polling=100)
    assert page.locator("#keep-state").inner_text() == km("Removed from this phone.")
    assert not [n for n in cache_names(page) if n.startswith("kru-course:")]
    # Without the network a page never visited is no longer on the phone: the app says so.
    wifi_off(context, world)
    page.goto(f"/learn/items/{PACK}/daily-reading-checks")
    assert "ទំព័រនេះមិនទាន់មាននៅលើទូរស័ព្ទនេះទេ" in page.inner_text("main")
    context.close()


def test_a_new_pack_version_updates_the_kept_course_at_the_next_visit(
    world: dict, tmp_path: Path
) -> None:
    context = phone(world, world["https"])
    page = context.new_page()
    sign_in(page, "learner3")
    old = keep_course(world, page)

    source = tmp_path / "pack"
    shutil.copytree(ROOT / "content_packs" / "examples" / PACK, source)
    toml = source / "pack.toml"
    toml.write_text(toml.read_text().replace('version = "1.0.0"', 'version = "1.0.1"', 1))
    built = tmp_path / "pack.zip"
    env = {**os.environ, **SITE_ENV}
    for args in (
        ["pack", "build", str(source), "-o", str(built)],
        ["--data-dir", str(world["site"].home.root), "pack", "install", str(built)],
    ):
        done = subprocess.run([KRU, *args], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr

    page.goto(COURSE)  # the next visit
    page.wait_for_function(
        "() => KruKeep.kept() && KruKeep.kept().pack_version === '1.0.1' && !KruKeep.busy()",
        polling=100,
        timeout=60_000,
    )
    names = [n for n in cache_names(page) if n.startswith("kru-course:")]
    assert names == [page.evaluate("() => KruKeep.kept().cache")] and names[0] != old["cache"]
    context.close()


def test_the_observation_form_opens_and_is_filled_without_the_network(
    world: dict, tmp_path: Path
) -> None:
    context = installed_phone(world, tmp_path / "phone")
    page = context.new_page()
    sign_in(page, "mentor1", MENTOR_PASSWORD)
    with_worker(page)
    page.goto("/observe")
    row = page.locator("#students tr", has_text="learner1")
    row.get_by_role("link", name=km("Observe"), exact=True).click()
    page.wait_for_selector("#observe-form")
    form_url = page.url

    wifi_off(context, world)  # at the practicum school, the app opened from the home screen
    page = context.new_page()
    page.goto(form_url)
    fill_in_form(page)
    page.get_by_role("button", name=km("Save the observation")).click()
    page.locator("#observe-status").wait_for(state="visible")
    shot(world, page, "km-offline-observation-saved")
    before = rows(world, OBSERVED, FORM)
    page.wait_for_function(WORKBOX_ENTRIES, arg="kru-observations", polling=200)

    blank = context.new_page()
    page.close()  # the mentor closes the app; back at the college, the phone finds the Wi-Fi
    wifi_on(context, world)
    background_sync(context, blank, world, "kru-observations")
    for _ in range(100):
        if rows(world, OBSERVED, FORM)[0][0] > before[0][0]:
            break
        blank.wait_for_timeout(100)
    assert rows(world, OBSERVED, FORM)[0][0] == before[0][0] + 1  # sent by the worker
    # The observe page, opened again, finds its copy already sent: nothing arrives twice.
    page = context.new_page()
    page.goto(form_url)
    page.wait_for_function(
        "() => Object.values(JSON.parse(localStorage.getItem('kru.observations.v1') || '{}'))"
        ".every(q => q.length === 0)",
        polling=200,
        timeout=30_000,
    )
    after = rows(world, OBSERVED, FORM)
    assert after[0][0] == before[0][0] + 1
    context.close()


# How many events Workbox's Background Sync queue (IndexedDB "workbox-background-sync") holds.
WORKBOX_QUEUED = """(want) => new Promise((done) => {
  const open = indexedDB.open("workbox-background-sync");
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("requests")) { db.close(); return done(false); }
    const all = db.transaction("requests").objectStore("requests").getAll();
    all.onsuccess = () => {
      db.close();
      const events = all.result.map((e) => JSON.parse(new TextDecoder().decode(e.requestData.body)))
        .reduce((n, b) => n + b.events.length, 0);
      done(events === want);
    };
  };
  open.onerror = () => done(false);
})"""
# Whether Workbox's Background Sync store holds a request of the queue named ``arg``.
WORKBOX_ENTRIES = """(queue) => new Promise((done) => {
  const open = indexedDB.open("workbox-background-sync");
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("requests")) { db.close(); return done(false); }
    const all = db.transaction("requests").objectStore("requests").getAll();
    all.onsuccess = () => { db.close(); done(all.result.some((e) => e.queueName === queue)); };
  };
  open.onerror = () => done(false);
})"""
OBSERVED = "SELECT count(*) FROM events WHERE verb = 'observed' AND object = ?"
DRAFTS = """() => new Promise((done) => {
  const open = indexedDB.open("kru-drafts", 1);
  open.onsuccess = () => {
    const all = open.result.transaction("tasks").objectStore("tasks").count();
    all.onsuccess = () => { open.result.close(); done(all.result); };
  };
})"""


def test_work_handed_in_without_the_network_arrives_once(world: dict, tmp_path: Path) -> None:
    context = installed_phone(world, tmp_path / "phone")
    page = context.new_page()
    sign_in(page, "learner2")
    with_worker(page)
    task = f"/learn/items/{PACK}/plan-reading-lesson"
    page.goto(task)  # seen once on the Wi-Fi: the app keeps the page
    page.close()

    wifi_off(context, world)
    page = context.new_page()
    assert page.goto(task).from_service_worker
    page.set_input_files(
        "#task-files", str(ROOT / "content_packs/examples" / PACK / "media/reading-corner.png")
    )
    page.fill("#task-note", "ផែនការមេរៀនអានរបស់ខ្ញុំ")
    page.get_by_role("button", name=km("Submit"), exact=True).click()
    result = page.locator("#task-result")
    result.wait_for(state="visible")
    page.wait_for_function(
        "(t) => document.getElementById('task-result').textContent === t",
        arg=km(
            "No Wi-Fi: your work is saved on this phone and will be handed in when the phone "
            "is back on the Kru Wi-Fi."
        ),
        polling=100,
    )
    shot(world, page, "km-offline-task-saved")
    assert page.evaluate(DRAFTS) == 1
    user = rows(world, "SELECT id FROM users WHERE username = 'learner2'")[0][0]
    assert rows(world, "SELECT count(*) FROM task_submissions WHERE user_id = ?", user) == [(0,)]

    wifi_on(context, world)
    page.wait_for_function(
        "(t) => document.getElementById('task-result').textContent === t",
        arg=km("The work saved on this phone was handed in. Your instructor will review it."),
        polling=200,
        timeout=30_000,
    )
    page.reload()  # the page looks again: nothing is left to send twice
    assert page.evaluate(DRAFTS) == 0
    assert rows(
        world, "SELECT count(*), max(note) FROM task_submissions WHERE user_id = ?", user
    ) == [(1, "ផែនការមេរៀនអានរបស់ខ្ញុំ")]
    context.close()


def test_background_sync_sends_the_queue_with_the_app_closed(world: dict, tmp_path: Path) -> None:
    """Chrome's Background Sync: the worker's copy of the queue goes with no Kru page open."""
    context = installed_phone(world, tmp_path / "phone")
    page = context.new_page()
    sign_in(page, "learner1")
    with_worker(page)
    page.goto(f"/learn/items/{LESSONS[1]}")  # opened once on the Wi-Fi
    page.wait_for_function("() => KruEvents.pending() === 0", polling=100)
    wifi_off(context, world)
    assert page.goto(f"/learn/items/{LESSONS[1]}").from_service_worker
    page.get_by_role("button", name=km("I have finished")).click()
    page.locator("#saved").wait_for(state="visible")
    ids = [e["id"] for q in queued(page).values() for e in q]
    assert ids
    # The worker holds a copy for Background Sync (Workbox's queue in IndexedDB).
    page.wait_for_function(WORKBOX_QUEUED, arg=len(ids), polling=200)
    blank = context.new_page()
    page.close()  # the learner closed Kru
    marks = ",".join("?" * len(ids))
    # Nothing has left the phone while it was off the Wi-Fi. (Once it is back, the worker may
    # send the queue at any moment, even before the sync fired below, so this is asked now.)
    assert rows(world, f"SELECT id FROM events WHERE id IN ({marks})", *ids) == []
    wifi_on(context, world)  # the phone comes back to the Wi-Fi

    background_sync(context, blank, world, "kru-events")
    arrived: list[tuple] = []
    for _ in range(100):
        arrived = rows(world, f"SELECT id FROM events WHERE id IN ({marks})", *ids)
        if len(arrived) == len(ids):
            break
        blank.wait_for_timeout(100)
    assert sorted(r[0] for r in arrived) == sorted(ids)
    context.close()


def answer_quiz(page: Any) -> None:
    page.locator("input[name='q-before-reading'][value='test-words']").check()
    for fieldset in page.locator("fieldset.q").all()[1:]:
        fieldset.locator("input").first.check()


def test_an_offline_attempt_past_the_limit_is_not_graded_and_the_page_says_so(
    world: dict, tmp_path: Path
) -> None:
    context = installed_phone(world, tmp_path / "phone")
    page = context.new_page()
    sign_in(page, "learner3")
    with_worker(page)
    page.goto(f"/learn/items/{QUIZ}")  # opened once on the Wi-Fi
    page.close()
    wifi_off(context, world)
    page = context.new_page()
    assert page.goto(f"/learn/items/{QUIZ}").from_service_worker
    answer_quiz(page)
    page.get_by_role("button", name=km("Submit answers")).click()
    note = page.locator("#quiz-offline")
    note.wait_for(state="visible")
    assert note.inner_text() == km(QUEUED)

    # Meanwhile, on a computer at the college, the same learner uses all three attempts.
    other = phone(world, world["https"])
    desk = other.new_page()
    sign_in(desk, "learner3")
    for _ in range(3):
        desk.goto(f"/learn/items/{QUIZ}")
        answer_quiz(desk)
        with desk.expect_navigation():
            desk.get_by_role("button", name=km("Submit answers")).click()
    other.close()

    wifi_on(context, world)  # the phone's attempt arrives fourth: not graded, and said so
    page.wait_for_function("() => KruEvents.pending() === 0", polling=200, timeout=30_000)
    page.wait_for_function(
        "(text) => document.getElementById('quiz-offline').textContent === text",
        arg=km(
            "Your answers sent from this phone arrived after all your attempts at this quiz "
            "were used, so they were not graded."
        ),
        polling=200,
    )
    shot(world, page, "km-offline-quiz-refused")
    user = rows(world, "SELECT id FROM users WHERE username = 'learner3'")[0][0]
    assert rows(
        world,
        "SELECT count(*) FROM events WHERE user_id = ? AND verb = 'attempted' AND object = ?",
        user,
        QUIZ,
    ) == [(3,)]
    context.close()
