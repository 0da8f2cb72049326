"""Demo data: an admin, an instructor and five learners in one cohort, and the sample pack."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .. import accounts
from ..accounts.models import User
from ..base.settings import Settings

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo1234"  # noqa: S105 - documented demo login
DEMO_COHORT = "Demo cohort 2026"
LEARNERS = [
    ("learner1", "សុខ ដារា"),
    ("learner2", "ចាន់ សុភា"),
    ("learner3", "កែវ វិចិត្រ"),
    ("learner4", "ម៉ៅ ស្រីនិច"),
    ("learner5", "ហេង សំណាង"),
]

# Later parts add steps here (install the sample pack, ...): f(settings) -> None.
EXTRA_STEPS: list[str] = [
    "content_packs.demo:install_sample_pack",
]


def demo_logins() -> list[tuple[str, str, str]]:
    """Return (username, password, role) of the demo accounts."""
    return [("admin", DEMO_PASSWORD, "admin"), ("instructor", DEMO_PASSWORD, "instructor")] + [
        (name, DEMO_PASSWORD, "learner") for name, _ in LEARNERS
    ]


def _run_extra_steps(settings: Settings) -> None:
    import importlib

    for spec in EXTRA_STEPS:
        module, _, attr = spec.partition(":")
        try:
            step: Callable[[Settings], None] = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError:
            log.warning("demo step %s is not available yet", spec)
            continue
        step(settings)


def seed(settings: Settings) -> bool:
    """Create the demo accounts and cohort unless they exist; return whether it created them."""
    if User.select().where(User.username == "admin").exists():
        return False
    accounts.create_user(
        "admin", DEMO_PASSWORD, display_name="Site admin", role="admin", language="en"
    )
    teacher = accounts.create_user(
        "instructor", DEMO_PASSWORD, display_name="គ្រូ ពិសិដ្ឋ", role="instructor"
    )
    cohort = accounts.create_cohort(DEMO_COHORT, "ថ្នាក់គំរូ សម្រាប់សាកល្បង")
    accounts.add_to_cohort(cohort, teacher)
    for username, name in LEARNERS:
        learner = accounts.create_user(username, DEMO_PASSWORD, display_name=name, language="km")
        accounts.add_to_cohort(cohort, learner)
    _run_extra_steps(settings)
    return True
