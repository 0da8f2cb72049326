"""The installable offline app (issue 23): manifest, service worker, what to keep of a course.

Browsers allow a service worker only on a secure origin, so the manifest and ``/sw.js`` are
served on the HTTPS origin only (404 over plain HTTP). The worker is the vendored Workbox
(static/vendor/workbox) driven by static/js/kru-sw.js; this module puts before it the app
shell with a revision per file, so a new Kru release makes phones fetch the new shell.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user

from content_packs.urls import content_url

from ...learning import offline
from ...web.auth import role_required
from ...web.layout import bp as web_bp
from .learn import learn_url
from .portal import PORTAL_HOST

bp = Blueprint("offline_app", __name__)

# (endpoint, filename) of the shell: what every learner page needs, kept on install.
SHELL = (
    ("web.static", "css/kru.css"),
    ("web.static", "fonts/NotoSansKhmer-Regular.woff2"),
    ("web.static", "favicon.ico"),
    ("static", "learn/learn.css"),
    ("static", "learn/icons.svg"),
    ("static", "learn/item.js"),
    ("static", "learn/quiz.js"),
    ("static", "learn/due-date.js"),
    ("static", "learn/tasks.css"),
    ("static", "js/kru-events.js"),
    ("static", "js/kru-offline.js"),
    ("static", "js/kru-digits.js"),
    ("static", "js/kru-app.js"),
    ("static", "js/kru-keep.js"),
    ("static", "js/observe.js"),
    ("static", "js/task-submit.js"),
    ("static", "vendor/tus-js-client/tus.min.js"),
    ("static", "app/kru-192.png"),
    ("static", "app/kru-512.png"),
)
NAMES = {
    "km": ("គ្រូ Kru", "គ្រូ", "រៀនវគ្គបណ្ដុះបណ្ដាលគ្រូ ទោះបីគ្មានវ៉ាយហ្វាយក៏ដោយ។"),
    "en": ("Kru", "Kru", "Study teacher-training courses, with or without the Wi-Fi."),
}
THEME = "#0b5cad"  # --brand in kru.css


def _https_only() -> None:
    if not request.is_secure:
        abort(404)


def _static_path(endpoint: str, filename: str) -> Path:
    folder = web_bp.static_folder if endpoint == "web.static" else current_app.static_folder
    return Path(str(folder)) / filename


def _revision(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _worker_source() -> str:
    """Return /sw.js: the shell with revisions, then kru-sw.js (made once per process)."""
    kept = current_app.extensions.get("kru_sw")
    if kept is not None:
        return kept
    shell = [
        {
            "url": url_for(endpoint, filename=name),
            "revision": _revision(_static_path(endpoint, name).read_bytes()),
        }
        for endpoint, name in SHELL
    ]
    template = Path(__file__).resolve().parent.parent / "templates" / "app" / "offline.html"
    offline_url = url_for("offline_app.offline_page")
    shell.append({"url": offline_url, "revision": _revision(template.read_bytes())})
    config = {
        "workbox": url_for("static", filename="vendor/workbox/"),
        "shell": shell,
        "offline": offline_url,
    }
    body = (_static_path("static", "js/kru-sw.js")).read_text(encoding="utf-8")
    source = f"self.KRU = {json.dumps(config)};\n{body}"
    current_app.extensions["kru_sw"] = source
    return source


@bp.get("/sw.js")
def service_worker():
    _https_only()
    response = Response(_worker_source(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # the browser checks it at each visit
    return response


def _icon(filename: str, sizes: str, **extra: str) -> dict[str, str]:
    return {
        "src": url_for("static", filename=filename),
        "sizes": sizes,
        "type": "image/png",
        **extra,
    }


@bp.get("/manifest.webmanifest")
def manifest():
    _https_only()
    locale = get_locale()
    lang = locale.language if locale and locale.language in NAMES else "km"
    name, short, description = NAMES[lang]
    body = {
        "id": url_for("learn.home"),
        "name": name,
        "short_name": short,
        "description": description,
        "lang": lang,
        "dir": "ltr",
        "start_url": url_for("learn.home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            _icon("app/kru-192.png", "192x192"),
            _icon("app/kru-512.png", "512x512"),
            _icon("app/kru-maskable-512.png", "512x512", purpose="maskable"),
        ],
    }
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/app/offline")
def offline_page():
    """The page the worker shows for a page that is neither on the phone nor reachable."""
    # When the certificate lapsed the HTTPS address no longer answers: say where Kru is.
    response = Response(render_template("app/offline.html", plain_url=f"http://{PORTAL_HOST}/"))
    response.headers["Cache-Control"] = "no-cache"
    return response


def plan_json(plan: offline.CoursePlan) -> dict[str, Any]:
    """Return what the phone downloads to keep a course: URLs, sizes, version."""
    pages = [learn_url("learn.course", plan.course)] + [
        learn_url("learn.item", key) for key in plan.items
    ]
    return {
        "course": plan.course,
        "version": plan.version,
        "pack_version": plan.pack_version,
        "pages": pages,
        "files": [{"url": content_url(f.ref()), "size": f.size} for f in plan.files],
        "skipped": plan.skipped,
        "page_bytes": plan.page_bytes,
        "file_bytes": plan.file_bytes,
        "bytes": plan.bytes,
    }


@bp.get("/api/v1/courses/<pack>/<slug>/offline")
@role_required()
def course_plan(pack: str, slug: str):
    """What keeping this course on a phone takes (docs/api.md, "Keeping a course")."""
    plan = offline.course_plan(current_user._get_current_object(), f"{pack}/{slug}", _lang())
    return jsonify(plan_json(plan))


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale else "km"
