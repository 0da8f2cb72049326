"""The header's links per role; each part of Kru adds its pages here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user

# (roles that see it, endpoint, label). Links whose endpoint is not registered are skipped.
NAV = [
    (("learner",), "learn.home", _l("My courses")),
    (("learner",), "learn.progress", _l("My progress")),
    (("learner", "instructor", "admin"), "discuss.boards", _l("Discussion")),
    (("learner", "instructor", "admin"), "search.index", _l("Search")),
    (("instructor", "admin"), "teach.cohorts", _l("Cohorts")),
    (("instructor", "admin"), "packs.index", _l("Content packs")),
    (("instructor", "admin"), "authoring.index", _l("Make a course")),
    (("admin",), "admin.index", _l("Site")),
    (("admin",), "admin.users", _l("Accounts")),
]


def nav_links() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    views = current_app.view_functions
    return [
        (endpoint, str(label))
        for roles, endpoint, label in NAV
        if current_user.role in roles and endpoint in views
    ]


ROLE_LABELS = {"learner": _l("Learner"), "instructor": _l("Instructor"), "admin": _l("Admin")}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


@dataclass(frozen=True)
class Layout:
    """What templates/base.html needs from the app using it: the brand and four endpoints.

    The site server and the central server share the layout, sign-in and error pages.
    """

    brand: object
    home: str
    login: str
    language: str
    logout: str


def init_app(app, layout: Layout | None = None, links: Callable | None = None) -> None:  # noqa: ANN001
    """Give templates the header's layout and links (the site's unless told otherwise)."""
    app.jinja_env.globals["layout"] = layout or Layout(
        brand=app.config["KRU"]["site_name"],
        home="core.index",
        login="core.login",
        language="core.language",
        logout="core.logout",
    )
    app.jinja_env.globals["nav_links"] = links or nav_links
    app.jinja_env.globals["role_label"] = role_label
