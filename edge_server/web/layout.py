"""The page layout both apps share: base, sign-in and error templates, stylesheet and font.

Each app calls ``init_app`` with its own ``Layout`` (brand, endpoints, extra stylesheets) and
header links; the templates and static files come from this package as one blueprint, so no
app reads another package's folders by path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from flask import Blueprint, Flask, current_app, g, render_template, request, session
from flask_login import current_user
from markupsafe import Markup, escape

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


# Stand-ins for what differs between requests in a cached layout part (see ``layout_part``).
_CSRF_MARK = "kru-layout-csrf-token"
_PATH_MARK = "/kru-layout-request-path"
_USER_MARK = "kru-layout-user-id"


_SIGNED_TOKENS_KEPT = 4096


def csrf_token() -> str:
    """Return this session's signed CSRF token, signed once per process and session.

    Flask-WTF signs the session's token again on every request that shows a form; with no
    time limit on tokens (``WTF_CSRF_TIME_LIMIT = None``) a token signed earlier is as
    valid, so the signed form is kept per raw token and put where Flask-WTF looks first.
    """
    from flask_wtf.csrf import generate_csrf

    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    raw = session.get(field)
    if not raw or config.get("WTF_CSRF_TIME_LIMIT", 3600) is not None:
        return generate_csrf()
    signed: dict[str, str] = current_app.extensions.setdefault("kru_signed_csrf", {})
    if field not in g and raw in signed:
        setattr(g, field, signed[raw])
    token = generate_csrf()
    if raw not in signed:
        if len(signed) >= _SIGNED_TOKENS_KEPT:
            signed.clear()
        signed[raw] = token
    return token


def _static_urls(app: Flask) -> None:
    """Let templates' ``url_for`` build each static file's URL once, not on every page.

    A static URL depends only on the endpoint, the file and where the app is mounted.
    """
    plain = cast(Callable[..., str], app.jinja_env.globals["url_for"])
    kept: dict[tuple[str, str, str], str] = {}

    def url_for(endpoint: str, **values: object) -> str:
        if endpoint.endswith("static") and len(values) == 1 and "filename" in values:
            key = (request.script_root, endpoint, str(values["filename"]))
            url = kept.get(key)
            if url is None:
                url = kept[key] = plain(endpoint, **values)
            return url
        return plain(endpoint, **values)

    app.jinja_env.globals["url_for"] = url_for


def layout_part(name: str, *key: object) -> Markup:
    """Return the layout template ``name`` rendered once per language, role and ``key``.

    The page's head links and its header (brand, the role's links, language and sign-out
    forms) are the same for every learner reading in one language, but rendering them was
    a fifth of a learner page's time (issue 22). They are rendered once per app, language,
    role and ``key`` (passed to the template as ``part_key``, and whether its first value
    is true as ``offline_script``) with stand-ins for the request's CSRF token, path and
    user id, which are put in on each request; a page's own part that depends only on the
    language and a few values (a course's "keep it on my phone" section) may use it too,
    with those values as ``key``. The header
    links (``init_app``'s ``links``) may therefore depend on the user's role only, and a
    part may use of the user only ``user_id``.
    """
    ctx = _request_layout()
    cache_key = (name, ctx.key, key)
    parts = current_app.extensions.setdefault("kru_layout_parts", {})
    pieces = parts.get(cache_key)
    if pieces is None:
        html = render_template(
            name,
            csrf_token=lambda: _CSRF_MARK,
            request_path=_PATH_MARK,
            user_id=_USER_MARK,
            offline_script=bool(key and key[0]),
            part_key=key,
        )
        pieces = parts[cache_key] = _split_marks(html)
    if isinstance(pieces, Markup):
        return pieces
    # Rendered by autoescaping Jinja; what is put in is escaped here.
    out = []
    for piece in pieces:
        if piece is _CSRF_MARK:
            if ctx.csrf is None:
                ctx.csrf = str(escape(csrf_token()))
            piece = ctx.csrf
        elif piece is _USER_MARK:
            piece = ctx.user
        elif piece is _PATH_MARK:
            piece = ctx.path
        out.append(piece)
    return Markup("".join(out))  # noqa: S704


_MARKS = re.compile("|".join(re.escape(mark) for mark in (_CSRF_MARK, _PATH_MARK, _USER_MARK)))
_MARK_OF = {mark: mark for mark in (_CSRF_MARK, _PATH_MARK, _USER_MARK)}


def _split_marks(html: str) -> Markup | tuple[str, ...]:
    """Return a rendered part as its text pieces and stand-ins (the module's own stand-in
    strings, told apart by identity), so each request joins them instead of searching the
    part for each stand-in (issue 22). A part without stand-ins is returned as Markup."""
    pieces: list[str] = []
    start = 0
    for found in _MARKS.finditer(html):
        pieces.append(html[start : found.start()])
        pieces.append(_MARK_OF[found.group()])
        start = found.end()
    if not pieces:
        return Markup(html)  # noqa: S704  # rendered by autoescaping Jinja
    pieces.append(html[start:])
    return tuple(piece for piece in pieces if piece)


class _RequestLayout:
    """What a request's layout parts are kept by and what is put into them, found once per
    request (a page has three or four parts; each lookup through Flask's proxies counts)."""

    __slots__ = ("for_user", "key", "user", "path", "csrf")

    def __init__(self, user: object) -> None:
        from flask_babel import get_locale

        locale = get_locale()
        self.for_user = user
        signed_in = bool(user.is_authenticated)  # type: ignore[attr-defined]
        self.key = (
            locale.language if locale else "km",
            user.role if signed_in else None,  # type: ignore[attr-defined]
            signed_in,
            request.script_root,
        )
        self.user = str(escape(user.id)) if signed_in else ""  # type: ignore[attr-defined]
        self.path = str(escape(request.path))
        self.csrf: str | None = None  # signed only if a part shows a form


def _request_layout() -> _RequestLayout:
    user = current_user._get_current_object()
    found = g.get("_kru_layout")
    if found is None or found.for_user is not user:  # signed in or out since: anew
        found = g._kru_layout = _RequestLayout(user)
    return found


def init_app(app: Flask, layout: Layout, links: Callable[[], list[tuple[str, str]]]) -> None:
    """Serve the shared templates and files, and give templates the layout and header links.

    ``links`` returns the header's (endpoint, label) pairs for the signed-in user; they may
    depend on the user's role only, as the header is kept per role (``layout_part``).
    """
    app.register_blueprint(bp)
    app.jinja_env.globals["layout"] = layout
    app.jinja_env.globals["nav_links"] = links
    app.jinja_env.globals["layout_part"] = layout_part
    app.jinja_env.globals["csrf_token"] = csrf_token
    _static_urls(app)
