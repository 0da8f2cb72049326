"""Sign-in and sign-out pages, language choice, the home redirect and ``/healthz``."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from ... import accounts
from ...web import layout, sessions
from ...web.i18n import LANGUAGES
from ...web.ratelimit import RateLimited
from ...web.sessions import safe_next
from .. import health

bp = Blueprint("core", __name__)

# Where each role lands after signing in.
ROLE_HOME = {
    "learner": "learn.home",
    "instructor": "teach.cohorts",
    "admin": "admin.index",
    "mentor": "observe.index",
}


def home_url_for(role: str) -> str:
    endpoint = ROLE_HOME.get(role, "core.welcome")  # never "/" itself: it redirects here
    if endpoint not in current_app.view_functions:
        endpoint = "admin.index" if role == "admin" else "core.welcome"
    return url_for(endpoint)


def sign_in(username: str, password: str):  # returns a User or None
    """Sign in to the site (rate limited); return the user or None."""
    return sessions.sign_in(accounts.authenticate, username, password)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user.role))
    return redirect(url_for("core.login"))


@bp.get("/welcome")
@login_required
def welcome():
    return render_template("welcome.html")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            user = sign_in(username, request.form.get("password", ""))
        except RateLimited as exc:
            return sessions.rate_limited_page(exc, username, next_url)
        if user is not None:
            return redirect(next_url or home_url_for(user.role))
        flash(gettext("Wrong username or password."), "error")
        return render_template("login.html", username=username, next=next_url), 401
    if current_user.is_authenticated:
        return redirect(next_url or home_url_for(current_user.role))
    return render_template("login.html", username="", next=next_url)


@bp.post("/logout")
def logout():
    sessions.sign_out()
    response = redirect(url_for("core.login"))
    # A shared phone: the next person must not page Back into this learner's cached pages.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            accounts.update_user(current_user._get_current_object(), language=lang)
    return redirect(safe_next(request.form.get("next")) or url_for("core.index"))


@bp.get("/favicon.ico")
def favicon():
    """Serve the icon browsers ask for on their own (it was a 404 HTML page, issue 14)."""
    return send_from_directory(
        layout.bp.static_folder or "", "favicon.ico", mimetype="image/vnd.microsoft.icon"
    )


@bp.get("/healthz")
def healthz():
    report = health.health(
        current_app.config["KRU_HOME"], current_app.extensions.get("kru_integrity")
    )
    return jsonify(report), 200 if report["status"] == "ok" else 503
