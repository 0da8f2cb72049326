"""The site's header: its name and endpoints, the links each role sees, role names."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..web.layout import Layout
from ..web.layout import init_app as init_layout

# (roles that see it, endpoint, label)
NAV = [
    (("learner",), "learn.home", _l("My courses")),
    (("learner",), "learn.progress", _l("My progress")),
    (("learner",), "observe.mine", _l("My observations")),
    (("mentor",), "observe.index", _l("Observe")),
    (("learner", "instructor", "admin"), "discuss.boards", _l("Discussion")),
    (("learner", "instructor", "admin"), "search.index", _l("Search")),
    (("instructor", "admin"), "teach.cohorts", _l("Cohorts")),
    (("instructor", "admin"), "observe.index", _l("Observe")),
    (("instructor", "admin"), "packs.index", _l("Content packs")),
    (("instructor", "admin"), "authoring.index", _l("Make a course")),
    (("admin",), "admin.index", _l("Site")),
    (("admin",), "admin.users", _l("Accounts")),
]


def nav_links() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    return [(endpoint, str(label)) for roles, endpoint, label in NAV if current_user.role in roles]


ROLE_LABELS = {
    "learner": _l("Learner"),
    "instructor": _l("Instructor"),
    "admin": _l("Admin"),
    "mentor": _l("Mentor"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def layout(app_config: Any) -> Layout:
    """Return the site's header: its name, and the core pages' endpoints."""
    return Layout(
        brand=app_config["KRU"]["site_name"],
        home="core.index",
        login="core.login",
        language="core.language",
        logout="core.logout",
        head_template="app/_head.html",
        main_template="app/_install.html",
    )


def init_app(app: Flask) -> None:
    """Give the site's templates the shared layout, the header's links and role names."""
    init_layout(app, layout(app.config), nav_links)
    app.jinja_env.globals["role_label"] = role_label
