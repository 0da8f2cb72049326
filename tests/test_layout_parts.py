"""The page head and header are rendered once per language and role (web/layout.py,
``layout_part``), and what a request puts in them (CSRF token, path, user id) is found once
per request: they must still follow each request and each user (issue 22)."""

from __future__ import annotations

import re

import pytest
from flask import render_template

from edge_server.web.sessions import start_session


def _csrf_in_header(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', html))


def test_a_page_rendered_after_signing_in_within_the_request_shows_the_signed_in_header(
    app, make_user
):
    user = make_user(role="learner")

    @app.get("/test-render-twice")
    def render_twice():
        before = render_template("error.html", code=200, message="before")
        start_session(user)
        after = render_template("error.html", code=200, message="after")
        return {"before": before, "after": after}

    pages = app.test_client().get("/test-render-twice").get_json()
    assert 'action="/logout"' not in pages["before"]
    assert 'action="/logout"' in pages["after"]


def test_each_browser_gets_its_own_csrf_token_and_path_in_the_header(app, login_as, make_user):
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        client.get("/login")
    one = first.get("/login").get_data(as_text=True)
    two = second.get("/login?next=/learn/").get_data(as_text=True)
    assert _csrf_in_header(one) and _csrf_in_header(two)
    assert _csrf_in_header(one) != _csrf_in_header(two)
    assert 'name="next" value="/login"' in one


@pytest.mark.parametrize(
    "html",
    [
        "<p>no stand-in</p>",
        "kru-layout-csrf-token",
        "kru-layout-csrf-tokenkru-layout-user-id/kru-layout-request-path",
        '<a href="/kru-layout-request-path?u=kru-layout-user-id">x</a>'
        '<input value="kru-layout-csrf-token"><i>kru-layout-user-id</i>',
    ],
)
def test_a_kept_part_puts_in_what_replacing_its_stand_ins_did(html):
    from edge_server.web.layout import _CSRF_MARK, _PATH_MARK, _USER_MARK, _split_marks

    values = {_CSRF_MARK: "TOKEN", _USER_MARK: "42", _PATH_MARK: "/learn/"}
    pieces = _split_marks(html)
    joined = pieces if isinstance(pieces, str) else "".join(values.get(p, p) for p in pieces)
    expected = html
    for mark, value in values.items():
        expected = expected.replace(mark, value)
    assert joined == expected
