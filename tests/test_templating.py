"""Templates read the environment's globals directly (web/templating.py, issue 22), and
still see every global, also one added after they were loaded."""

from __future__ import annotations


def test_a_site_template_uses_the_environments_globals(app):
    template = app.jinja_env.get_template("learn/course.html")
    assert template.globals is app.jinja_env.globals


def test_a_global_added_after_loading_is_seen_and_macros_still_import(app, client, login_as):
    with app.test_request_context():
        app.jinja_env.get_template("learn/home.html")
    app.jinja_env.globals["kru_test_global"] = "added later"
    template = app.jinja_env.from_string("{{ kru_test_global }}")
    assert template.render() == "added later"
    login_as("learner")
    assert client.get("/learn/").status_code == 200  # imports a macro of learn/_macros.html


def test_a_template_given_its_own_globals_keeps_them_to_itself(app):
    own = app.jinja_env.from_string("{{ only_here }}", globals={"only_here": "mine"})
    assert own.render() == "mine"
    assert "only_here" not in app.jinja_env.globals


def test_the_page_language_is_parsed_once_per_language_and_follows_each_user(app, client, login_as):
    from flask_babel import get_locale

    from edge_server import accounts

    user = login_as("learner")
    with app.test_request_context():
        from edge_server.web.i18n import selected_locale

        assert selected_locale() is selected_locale()
    assert (
        client.get("/learn/").get_data(as_text=True).startswith('<!doctype html>\n<html lang="km">')
    )
    accounts.update_user(user, language="en")
    assert '<html lang="en">' in client.get("/learn/").get_data(as_text=True)
    with app.test_request_context():
        assert get_locale().language == "km"  # no one signed in: the site's language


# Messages of the Khmer catalog: one with a placeholder, one without, one untranslated.
_MESSAGES = ["%(done)s of %(total)s done", "Overdue", "Not in any catalog: %(x)s 100%%"]


def _both_ways(app, autoescape: bool) -> tuple[list[str], list[str]]:
    """Each message through ``_`` and through Jinja's own newstyle ``gettext``."""
    values = {"done": "<b>3</b>", "total": 5, "x": "a & 'b'"}
    ours, jinjas = [], []
    for message in _MESSAGES:
        for name, out in (("_", ours), ("gettext", jinjas)):
            source = f"{{% autoescape {str(autoescape).lower()} %}}{{{{ {name}(m, **v) }}}}"
            template = app.jinja_env.from_string(source + "{% endautoescape %}")
            out.append(template.render(m=message, v=values))
    return ours, jinjas


def test_templates_underscore_is_what_jinjas_gettext_gives(app, client, login_as):
    from edge_server.accounts.models import User

    user = login_as("learner")
    for language in ("km", "en"):
        User.update(language=language).where(User.id == user.id).execute()
        cookie = f"session={client.get_cookie('session').value}"
        for autoescape in (True, False):
            with app.test_request_context("/learn/", headers={"Cookie": cookie}):
                app.preprocess_request()
                ours, jinjas = _both_ways(app, autoescape)
            assert ours == jinjas
        assert ("ហួសកំណត់" in ours[1]) is (language == "km")
    assert "&lt;b&gt;3&lt;/b&gt;" in _escaped_first(app, cookie)


def _escaped_first(app, cookie: str) -> str:
    with app.test_request_context("/learn/", headers={"Cookie": cookie}):
        app.preprocess_request()
        return _both_ways(app, True)[0][0]
