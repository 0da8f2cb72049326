"""The page layout both apps share: base, sign-in and error templates, stylesheet and font.

Each app calls ``init_app`` with its own ``Layout`` (brand, endpoints, extra stylesheets) and
header links; the templates and static files come from this package as one blueprint, so no
app reads another package's folders by path.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from flask import Blueprint, Flask, current_app, g, render_template, request, session
from flask_login import current_user
from markupsafe import Markup, escape

from .i18n import page_locale

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
    if g.get("_kru_page_skeleton"):  # a kept page (``kept_page``) puts the request's values in
        return Markup("".join(pieces))  # noqa: S704  # the part as rendered, stand-ins kept
    return Markup("".join(_filled(pieces, ctx, {})))  # noqa: S704


def _filled(
    pieces: tuple[str, ...], ctx: _RequestLayout, slots: Mapping[str, Callable[[], str]]
) -> list[str]:
    """Return ``pieces`` with this request's CSRF token, user id, path and page slots put in
    for their stand-ins. The pieces were rendered by autoescaping Jinja; what is put in is
    escaped here (a slot's function returns HTML it escaped itself)."""
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
        elif type(piece) is _SlotMark:
            piece = str(slots[piece.slot]())
        out.append(piece)
    return out


class _SlotMark(str):
    """The stand-in of a page slot in a kept page (``kept_page``), told apart by its type."""

    slot: str


# Random per process, so no text from the database (a lesson, a title) can hold a stand-in.
_SLOT_PREFIX = f"kru-page-slot-{secrets.token_hex(8)}-"
_PAGES_KEPT = 512  # kept pages per process: languages x roles x courses and lessons ...
_PAGES_KEPT_CHARS = 1_000_000  # ... in at most about 2 MB (Khmer text takes 2 bytes a letter)


class _KeptPages:
    """Pages kept by ``kept_page`` in one process, all forgotten when there are too many or
    they hold too much text (a class reads a few courses and lessons at a time)."""

    def __init__(self) -> None:
        self.pages: dict[tuple[object, ...], tuple[str, ...]] = {}
        self.chars = 0

    def get(self, key: tuple[object, ...]) -> tuple[str, ...] | None:
        return self.pages.get(key)

    def keep(self, key: tuple[object, ...], pieces: tuple[str, ...]) -> None:
        size = sum(map(len, pieces))
        if len(self.pages) >= _PAGES_KEPT or self.chars + size > _PAGES_KEPT_CHARS:
            self.clear()
        self.pages[key] = pieces
        self.chars += size

    def clear(self) -> None:
        self.pages.clear()
        self.chars = 0

    def __len__(self) -> int:
        return len(self.pages)


_SLOT_NAME = re.compile("[a-z0-9_]+")


def slot(name: str) -> Markup:
    """Return the page slot ``name``: this request's HTML from the function the view gave
    ``kept_page`` for it, or its stand-in while ``kept_page`` renders the page to keep."""
    if not _SLOT_NAME.fullmatch(name):
        raise ValueError(f"a slot's name is lower-case letters, digits and _: {name!r}")
    if g.get("_kru_page_skeleton"):
        return Markup(f"{_SLOT_PREFIX}{name}-")  # noqa: S704  # letters, digits and dashes
    return Markup(g._kru_page_slots[name]())  # noqa: S704  # the view's escaped HTML


def page_in_full(name: str, slots: Mapping[str, Callable[[], str]], **context: object) -> str:
    """Render the template ``name``, whose slots ``slots`` fill (``kept_page``), in full."""
    g._kru_page_slots = slots
    return render_template(name, **context)


def kept_page(
    name: str, slots: Mapping[str, Callable[[], str]], *key: object, **context: object
) -> str:
    """Render the page template ``name`` once per language, role, blueprint, scheme and
    ``key``, and on each request put in its slots and the request's CSRF token, path and
    user id.

    A learner page's own template and the layout around it are the same for every learner
    reading in one language; rendering them was about a third of the learner home's time
    (issue 22). The template marks what differs between requests with ``{{ slot("x") }}``;
    ``slots["x"]`` returns that part's HTML, escaped (trusted as Markup), on each request.
    Everything else the template (and the layout parts it includes) shows may depend only
    on the language, the user's role, whether the user is signed in, the blueprint, whether
    the request came over HTTPS and ``key``: never on the user, the request's values or the
    database. A request with flashed messages to show is rendered in full (the slots are
    called as the template reaches them), as are pages rendered before the first request
    of a kind was kept. ``context`` is given to the template, and what of it the page shows
    outside its slots must be the same for every request with this ``key``.
    """
    if "_flashes" in session:
        return page_in_full(name, slots, **context)
    g._kru_page_slots = slots
    ctx = _request_layout()
    cache_key = (name, ctx.key, request.blueprint, request.is_secure, key)
    pages: _KeptPages = current_app.extensions["kru_pages"]
    pieces = pages.get(cache_key)
    if pieces is None:
        g._kru_page_skeleton = True
        try:
            html = render_template(name, **context)
        finally:
            g._kru_page_skeleton = False
        found = _split_marks(html)
        pieces = (found,) if isinstance(found, Markup) else found
        pages.keep(cache_key, pieces)
    return "".join(_filled(pieces, ctx, slots))


_MARK_OF = {mark: mark for mark in (_CSRF_MARK, _PATH_MARK, _USER_MARK)}
_MARKS = re.compile(
    "|".join(re.escape(mark) for mark in _MARK_OF) + f"|{re.escape(_SLOT_PREFIX)}([a-z0-9_]+)-"
)


def _split_marks(html: str) -> Markup | tuple[str, ...]:
    """Return a rendered part or page as its text pieces and stand-ins: the layout's (the
    module's own stand-in strings, told apart by identity) and a kept page's slots'
    (``_SlotMark``), so each request joins them instead of searching the text for each
    stand-in (issue 22). Text without stand-ins is returned as Markup."""
    pieces: list[str] = []
    start = 0
    for found in _MARKS.finditer(html):
        pieces.append(html[start : found.start()])
        if found.group(1):
            mark = _SlotMark(found.group())
            mark.slot = found.group(1)
            pieces.append(mark)
        else:
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
        locale = page_locale()
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
    app.jinja_env.globals["slot"] = slot
    app.extensions["kru_pages"] = _KeptPages()
    _static_urls(app)
