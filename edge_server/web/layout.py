"""The page layout both apps share: base, sign-in and error templates, stylesheet and font.

Each app calls ``init_app`` with its own ``Layout`` (brand, endpoints, extra stylesheets) and
header links; the templates and static files come from this package as one blueprint, so no
app reads another package's folders by path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask

# Shared files at /static/web/...; an app's own static files stay at /static/....
bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)


@dataclass(frozen=True)
class Layout:
    """What templates/base.html needs from the app using it: the brand, four endpoints, and
    the app's own stylesheets as (endpoint, filename) pairs, and optionally a template of the
    app's own to include at the end of <head> and one at the top of <main> (the site's
    installable-app parts, issue 23)."""

    brand: object
    home: str
    login: str
    language: str
    logout: str
    stylesheets: tuple[tuple[str, str], ...] = ()
    head_template: str | None = None
    main_template: str | None = None


def init_app(app: Flask, layout: Layout, links: Callable[[], list[tuple[str, str]]]) -> None:
    """Serve the shared templates and files, and give templates the layout and header links."""
    app.register_blueprint(bp)
    app.jinja_env.globals["layout"] = layout
    app.jinja_env.globals["nav_links"] = links
