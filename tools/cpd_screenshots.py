"""Regenerate docs/screenshots/cpd/*.png: blended courses and CPD (issue 16) on a site and on
the central server, on a 360 px phone in Khmer and on a 1280 px laptop in English.

    .venv/bin/python tools/cpd_screenshots.py            # into docs/screenshots/cpd/

Seeds a throw-away demo site with a term of CPD (sessions and attendance, a discussion, quiz
attempts, a reviewed task and an observation whose criteria name competencies), serves it,
syncs it to a throw-away central server, and photographs the pages with Debian's Chromium.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.harness import SITE_ENV, launch_chromium, seed_demo, sign_in  # noqa: E402
from tests.livesite import LiveSite  # noqa: E402
from tests.sync_support import CentralServer, make_site, run_agent  # noqa: E402
from tools.screenshots import save_png  # noqa: E402

log = logging.getLogger("cpd_screenshots")

OUT = ROOT / "docs" / "screenshots" / "cpd"
# (language, viewport, file prefix): a trainee's phone in Khmer, a trainer's laptop in English
VIEWS = (
    ("km", {"width": 360, "height": 740}, "km-360"),
    ("en", {"width": 1280, "height": 800}, "en-1280"),
)
COURSE = "classroom-reading/classroom-reading"
CRITERIA = "https://kru.example/xapi/criteria"
TASK = "classroom-reading/plan-reading-lesson"
# (file name, who signs in, path)
SITE_PAGES = [
    ("learner-home", "learner1", "/learn/"),
    ("my-competencies", "learner1", "/competencies"),
    ("sessions", "instructor", "/teach/cohorts/1/sessions"),
    ("attendance", "instructor", "/teach/sessions/1"),
    ("discussion", "instructor", "/discuss/threads/1"),
    ("competency-matrix", "instructor", "/teach/cohorts/1/competencies"),
]
CENTRAL_PAGES = [
    ("central-competencies", "/competencies"),
    ("central-cpd", "/cpd"),
    ("central-discussion", "/discussion"),
]


def seed(data_dir: str) -> None:
    """Give the demo site at ``data_dir`` a term of CPD (run in its own process)."""
    import json
    import uuid
    from datetime import UTC, datetime, timedelta

    from edge_server import accounts
    from edge_server.accounts.models import User
    from edge_server.cli.context import CliContext
    from edge_server.competencies import profiles
    from edge_server.cpd import attendance, certificates, discussion
    from edge_server.learning import assignments
    from edge_server.learning import events as le
    from edge_server.learning.models import Event

    ctx = CliContext(data_dir=data_dir)
    ctx.open_site_db()
    certificates.configure(ctx.settings)  # the site issues certificates as rules are met
    cohort = accounts.visible_cohorts(User.get(User.username == "admin"))[0]
    teacher = User.get(User.username == "instructor")
    learners = [User.get(User.username == f"learner{n}") for n in range(1, 6)]
    assignments.assign(cohort, COURSE, None, teacher)
    right = {"before-reading": "show-cover", "pair-roles": ["swap-roles", "wait-three"]}
    wrong = {"before-reading": "read-fast", "pair-roles": ["best-with-weakest"]}
    for n, who in enumerate(learners):
        answers = {**(right if n < 4 else wrong), "same-story": n < 4}
        le.submit_attempt(who, "classroom-reading/check-groups", str(uuid.uuid4()), answers)
        for slug in ("reading-classroom", "routines-and-rules", "reading-aloud")[: 3 - n // 2]:
            raw = {"id": str(uuid.uuid4()), "verb": "completed", "timestamp": le.now_ts()}
            le.ingest(who, [le.validate_event(0, {**raw, "object": f"classroom-reading/{slug}"})])

    def rated(who: User, verb: str, item: str, rows: list[tuple[str, str, int, int]]) -> None:
        # the criteria results as the practicum feature writes them (CONTRACT-competencies)
        listed = [{"criterion": c, "competency": k, "level": v, "max": m} for c, k, v, m in rows]
        result = {"extensions": {CRITERIA: listed}}
        if verb == "reviewed":
            le.ingest(who, [le.CleanEvent(0, str(uuid.uuid4()), verb, item, result, {}, None)])
            return
        Event.create(
            id=str(uuid.uuid4()),
            user=who.id,
            verb=verb,
            object=item,
            result=json.dumps(result),
            context="{}",
            server_ts=le.now_ts(),
            boot_id="demo",
        )

    task = TASK
    finish_course(learners[0], teacher, ctx.settings, ctx.home)
    rated(
        learners[0],
        "reviewed",
        task,
        [("objective", "CTPS.2.1.1", 2, 2), ("timing", "CTPS.2.1.2", 2, 2)]
        + [("support", "CTPS.2.3.1", 2, 2)],
    )
    rated(
        learners[1],
        "reviewed",
        task,
        [("objective", "CTPS.2.1.1", 1, 2), ("timing", "CTPS.2.1.2", 2, 2)]
        + [("support", "CTPS.2.3.1", 0, 2)],
    )
    rated(
        learners[0],
        "observed",
        "classroom-reading/observe-reading",
        [("management", "CTPS.2.2", 3, 3), ("fairness", "CTPS.4.1", 3, 3)]
        + [("checks", "CTPS.2.4", 2, 3)],
    )
    tz = attendance.zone("Asia/Phnom_Penh")
    now = datetime.now(UTC).astimezone(tz)
    titles = [
        "ការរៀបចំជ្រុងអាន (ការអនុវត្តជាក្រុម)",
        "ការអានឮៗ និងការអានជាគូ",
        "ការតាមដានការអានប្រចាំថ្ងៃ",
    ]
    marks = [["present"] * 4 + ["late"], ["present", "present", "excused", "absent", "present"]]
    for n, title in enumerate(titles):
        start = (now + timedelta(days=7 * (n - 2) if n < 2 else 2)).replace(hour=8, minute=0)
        session = attendance.schedule(
            cohort,
            title=title,
            local_start=start.strftime("%Y-%m-%dT%H:%M"),
            tz=tz,
            place="TEC Battambang, room 3",
            course=COURSE,
            by=teacher,
        )
        for who, mark in zip(learners, marks[n] if n < 2 else [], strict=False):
            attendance.mark(session, who, mark, by=teacher)
    thread = discussion.start_thread(
        learners[0],
        cohort,
        COURSE,
        "ជ្រុងអានក្នុងថ្នាក់ទី ១ ខ",
        "ខ្ញុំដាក់កន្ទេល និងសៀវភៅរឿង ១២ ក្បាល នៅជ្រុងខាងក្រោយថ្នាក់។ សិស្សអានពេលព្រឹក ១០ នាទី។",
    )
    discussion.reply(learners[1], thread, "គំនិតល្អ! ខ្ញុំប្ដូរសៀវភៅរៀងរាល់សប្ដាហ៍។")
    discussion.reply(teacher, thread, "ល្អណាស់។ សូមថតរូបជ្រុងអានមកចែករំលែក នៅវគ្គក្រោយ។")
    log.info("levels decided: %s", profiles.decide_all())


def finish_course(learner: Any, teacher: Any, settings: Any, home: Any) -> None:
    """Let ``learner`` do every item of the sample course: read, watch, pass both quizzes,
    hand in the task and have it accepted (the certificate then waits only for attendance)."""
    import shutil
    import uuid

    from content_packs.catalog import catalogs
    from edge_server.learning import events as le
    from edge_server.tasks import service as tasks

    answers = {
        "classroom-reading/check-groups": {
            "before-reading": "show-cover",
            "pair-roles": ["swap-roles", "wait-three"],
            "same-story": True,
        },
        "classroom-reading/final-check": {
            "pupils-per-day": 4,
            "tracking-mark": "✗",
            "short-often": "short-often",
            "praise-effort": False,
        },
    }
    for item in catalogs([COURSE], "km")[COURSE].items:
        if item.type == "quiz":
            le.submit_attempt(learner, item.key, str(uuid.uuid4()), answers[item.key])
        elif item.type != "task":
            raw = {"id": str(uuid.uuid4()), "verb": "completed", "object": item.key}
            raw |= {"timestamp": le.now_ts(), "result": {"completion": 1.0}}
            le.ingest(learner, [le.validate_event(0, raw)])
    plan = home.root / "plan.pdf"
    shutil.copyfile(
        ROOT / "content_packs/examples/classroom-reading/handouts/reading-tracker.pdf", plan
    )
    row, _new = tasks.submit(
        learner, TASK, [tasks.Incoming(plan, "plan.pdf")], "ផែនការមេរៀនអាន", settings, home
    )
    chosen = {"objective": "clear", "timing": "complete", "support": "planned"}
    tasks.review(teacher, row.id, chosen, "ផែនការល្អ", "accepted")


def seed_cpd(data_dir: Path) -> None:
    """Give the demo site a term of CPD, in a process of its own like the demo seed."""
    subprocess.run(  # noqa: S603 - this very file, with our own arguments
        [sys.executable, __file__, "--seed", str(data_dir)],
        check=True,
        env={**os.environ, **SITE_ENV},
        timeout=300,
    )


def _shoot(page: Any, path: str, target: Path) -> None:
    page.goto(path)
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_load_state("networkidle")
    size = save_png(page.screenshot(full_page=True, animations="disabled"), target)
    log.info("%s (%d KB)", target, size // 1024)


def _use_language(page: Any, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.locator(f"header button[name=lang][value={lang}]").click()


def capture_site(browser: Any, url: str, out: Path) -> None:
    for lang, viewport, prefix in VIEWS:
        for user in sorted({u for _n, u, _p in SITE_PAGES}):
            context = browser.new_context(viewport=viewport, base_url=url)
            try:
                page = context.new_page()
                sign_in(page, user)
                _use_language(page, lang)
                for name, who, path in SITE_PAGES:
                    if who == user:
                        _shoot(page, path, out / f"{prefix}-{name}.png")
            finally:
                context.close()


def capture_central(browser: Any, central: CentralServer, out: Path) -> None:
    central.cli("user", "add", "--username", "ministry", "--password", "mekong-river-2026",
                "--role", "viewer")  # fmt: skip
    for lang, viewport, prefix in VIEWS:
        context = browser.new_context(viewport=viewport, base_url=central.url)
        try:
            page = context.new_page()
            page.goto("/login")
            page.fill("#username", "ministry")
            page.fill("#password", "mekong-river-2026")
            with page.expect_navigation():
                page.locator("main form button[type=submit]").click()
            _use_language(page, lang)
            for name, path in CENTRAL_PAGES:
                _shoot(page, path, out / f"{prefix}-{name}.png")
        finally:
            context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="Folder for the PNG files.")
    parser.add_argument("--seed", help=argparse.SUPPRESS)  # the seeding process
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.seed:
        seed(args.seed)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kru-cpd-shots-") as tmp:
        root = Path(tmp)
        data_dir = root / "kru-home"
        data_dir.mkdir()
        seed_demo(data_dir)
        central = CentralServer(root / "central").start()
        try:
            site = make_site(root, "kru-home")
            # provisioned first: a certificate names the device that issued it
            central.provision(site, name="TEC Battambang", province="Battambang")
            seed_cpd(data_dir)
            done = run_agent(site, "")
            if done.returncode != 0:
                raise SystemExit(f"sync failed: {done.stderr}")
            live = LiveSite(data_dir, env=SITE_ENV).start()
            try:
                with sync_playwright() as playwright:
                    browser = launch_chromium(playwright)
                    try:
                        capture_site(browser, live.url, args.out)
                        capture_central(browser, central, args.out)
                    finally:
                        browser.close()
            finally:
                live.stop()
        finally:
            central.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
