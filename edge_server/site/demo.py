"""Demo data: an admin, an instructor and five learners in one cohort, and the sample pack."""

from __future__ import annotations

import logging

from content_packs.demo import install_sample_pack

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


def demo_logins() -> list[tuple[str, str, str]]:
    """Return (username, password, role) of the demo accounts."""
    return [("admin", DEMO_PASSWORD, "admin"), ("instructor", DEMO_PASSWORD, "instructor")] + [
        (name, DEMO_PASSWORD, "learner") for name, _ in LEARNERS
    ]


def seed(settings: Settings, *, sample_pack: bool = True) -> bool:
    """Create the demo accounts and cohort unless they exist, and install the sample pack
    (unless ``sample_pack`` is False); return whether it created them."""
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
    if sample_pack:
        install_sample_pack(settings)
    return True
