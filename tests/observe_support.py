"""Helpers for the observation tests: the sample practicum pack and a filled-in form."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from content_packs.build import build_pack
from content_packs.install import install_pack

PRACTICUM = Path(__file__).resolve().parents[1] / "content_packs" / "examples" / "practicum"
FORM = "practicum/reading-lesson-observation"
CRITERIA = (
    "knows-content",
    "plans-lesson",
    "engages-pupils",
    "checks-learning",
    "reflects",
    "respects-pupils",
)
# knows-content 3/4 (domain 1), practice 4+2+4 = 10/12 (domain 2), learning 1/4, ethics 4/4
LEVELS = {
    "knows-content": "proficient",
    "plans-lesson": "accomplished",
    "engages-pupils": "developing",
    "checks-learning": "accomplished",
    "reflects": "beginning",
    "respects-pupils": "accomplished",
}


def install_practicum(settings: Any, home: Any, tmp_path: Path) -> None:
    zip_path = tmp_path / "practicum.zip"
    build_pack(PRACTICUM, zip_path)
    install_pack(zip_path, settings, home)


def filled(learner_id: int, **overrides: Any) -> dict[str, Any]:
    """Return a filled-in observation form as the phone sends it."""
    body = {
        "id": str(uuid.uuid4()),
        "learner": learner_id,
        "form": FORM,
        "rubric": dict(LEVELS),
        "notes": {"engages-pupils": "ពួកសិស្សនៅខាងក្រោយមិនបានអានទេ។"},
        "comment": "មេរៀនល្អ។ Good pacing.",
        "school": "សាលាបឋមសិក្សាតាខ្មៅ",
        "class": "ថ្នាក់ទី២ ខ",
        "date": "2026-11-30",
    }
    body.update(overrides)
    return body


_SEED = """
import sys
from pathlib import Path
from edge_server import accounts
from edge_server.cli.context import CliContext
from tests.observe_support import install_practicum

ctx = CliContext(data_dir=sys.argv[1])
ctx.open_site_db()
install_practicum(ctx.settings, ctx.home, Path(sys.argv[1]) / "tmp")
mentor = accounts.create_user(
    "mentor1", sys.argv[2], role="mentor", display_name="លោកគ្រូ វណ្ណា", language="km"
)
admin = accounts.list_users("admin")[0]
for name in ("learner1", "learner2"):
    accounts.assign_mentor(admin, mentor, accounts.get_user(username=name))
"""
MENTOR_PASSWORD = "lotus-pond-7"


def seed_practicum(data_dir: Path, env: dict[str, str]) -> None:
    """Install the practicum pack on a demo site and make mentor1, mentor of learner1 and 2.

    Runs in a subprocess (the site may be serving). Raises: CalledProcessError.
    """
    subprocess.run(
        [sys.executable, "-c", _SEED, str(data_dir), MENTOR_PASSWORD],
        check=True,
        capture_output=True,
        env={**os.environ, **env},
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


def fill_in_form(page) -> None:
    """Fill in the observation form on ``page`` (a Playwright page) as a mentor would."""
    page.fill("input[name=school]", "សាលាបឋមសិក្សាតាខ្មៅ")
    page.fill("input[name=class]", "ថ្នាក់ទី២ ខ")
    for criterion, level in LEVELS.items():
        page.check(f"input[name='c-{criterion}'][value='{level}']")
    page.fill("textarea[name='n-engages-pupils']", "សិស្សនៅខាងក្រោយមិនបានអាន។")
    page.fill("textarea[name=comment]", "មេរៀនល្អ។")
