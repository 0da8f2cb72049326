"""The installable offline app (issue 23) as the server serves it: manifest, service worker,
the app shell, and what keeping a course on a phone takes. The browser side is in
tests/browser/test_offline_app.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from content_packs.urls import content_url
from tests.learning_catalog import APP, COURSE, LESSON, QUIZ, VIDEO

HTTPS = "https://localhost"
VENDOR = Path(__file__).resolve().parent.parent / "edge_server/site/static/vendor/workbox"
WORKER = Path(__file__).resolve().parent.parent / "edge_server/site/static/js/kru-sw.js"


@pytest.fixture
def learner(app, login_as, make_catalog):
    make_catalog(open_course=True)
    return login_as("learner")


@pytest.mark.parametrize("url", ["/sw.js", "/manifest.webmanifest"])
def test_the_app_is_served_only_on_the_https_origin(client, url):
    assert client.get(url).status_code == 404  # browsers allow no worker on plain HTTP
    assert client.get(url, base_url=HTTPS).status_code == 200


def test_pages_link_the_manifest_and_the_worker_only_over_https(client, learner):
    plain = client.get("/learn/").get_data(as_text=True)
    assert 'rel="manifest"' not in plain and "kru-app.js" not in plain
    secure = client.get("/learn/", base_url=HTTPS).get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in secure
    assert 'data-sw="/sw.js"' in secure


@pytest.mark.parametrize(("lang", "name", "short"), [("km", "គ្រូ Kru", "គ្រូ"), ("en", "Kru", "Kru")])
def test_the_manifest_names_the_app_in_the_users_language(client, learner, lang, name, short):
    from edge_server import accounts

    accounts.update_user(learner, language=lang)
    response = client.get("/manifest.webmanifest", base_url=HTTPS)
    assert response.mimetype == "application/manifest+json"
    body = json.loads(response.get_data(as_text=True))
    assert (body["name"], body["short_name"], body["lang"]) == (name, short, lang)
    assert body["display"] == "standalone" and body["start_url"] == "/learn/"
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in body["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in body["icons"]:
        png = client.get(icon["src"], base_url=HTTPS)
        assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(png.data[16:20]), int.from_bytes(png.data[20:24])
        assert f"{width}x{height}" == icon["sizes"]
        png.close()


def test_the_worker_precaches_a_shell_that_is_all_on_the_pi(client):
    source = client.get("/sw.js", base_url=HTTPS).get_data(as_text=True)
    first, _, rest = source.partition("\n")
    config = json.loads(first.removeprefix("self.KRU = ").removesuffix(";"))
    assert rest == WORKER.read_text(encoding="utf-8")
    assert config["workbox"] == "/static/vendor/workbox/"
    assert config["offline"] in {entry["url"] for entry in config["shell"]}
    for entry in config["shell"]:
        assert entry["url"].startswith("/") and re.fullmatch(r"[0-9a-f]{16}", entry["revision"])
        answer = client.get(entry["url"], base_url=HTTPS)
        assert answer.status_code == 200, entry["url"]
        answer.close()
    offline = client.get(config["offline"], base_url=HTTPS).get_data(as_text=True)
    assert "This page is not on this phone" in offline and "ទូរស័ព្ទ" in offline


def test_every_workbox_module_the_worker_uses_is_vendored_with_its_licence():
    used = set(re.findall(r"workbox\.(\w+)\b", WORKER.read_text(encoding="utf-8")))
    used -= {"setConfig"}
    names = {
        "core": "core",
        "routing": "routing",
        "strategies": "strategies",
        "precaching": "precaching",
        "expiration": "expiration",
        "rangeRequests": "range-requests",
        "backgroundSync": "background-sync",
    }
    assert used == set(names)
    for module in names.values():
        text = (VENDOR / f"workbox-{module}.prod.js").read_text(encoding="utf-8")
        assert "http://" not in text.replace("http://www.w3.org", "")
    assert (VENDOR / "workbox-sw.js").exists()
    assert "MIT" in (VENDOR / "README.md").read_text() and (VENDOR / "LICENSE.txt").exists()
    assert "ISC" in (VENDOR / "THIRD-PARTY-LICENSES.txt").read_text()


def test_keeping_a_course_lists_its_pages_and_files_with_their_sizes(client, learner):
    response = client.get(f"/api/v1/courses/{COURSE}/offline")
    assert response.status_code == 200
    plan = response.get_json()
    assert plan["course"] == COURSE and plan["pack_version"] == "1.0.0"
    pack, slug = COURSE.split("/")
    assert plan["pages"][0] == f"/learn/courses/{pack}/{slug}"
    assert f"/learn/items/{LESSON}" in plan["pages"] and f"/learn/items/{QUIZ}" in plan["pages"]
    assert f"/learn/items/{APP}" not in plan["pages"] and plan["skipped"] == [APP]
    # The course's files (the video, its captions, the PDF, ...), each with its size in the
    # content store, the HTML5 app's files left out.
    from content_packs.models import Item
    from content_packs.store import ContentStore

    store = ContentStore(client.application.config["KRU_HOME"])
    sizes = {f["url"]: store.path_for(f["url"].split("/")[2]).stat().st_size for f in plan["files"]}
    assert all(f["size"] == sizes[f["url"]] > 0 for f in plan["files"])
    video = Item.get(Item.key == VIDEO).payload
    assert content_url(video["file"]) in sizes
    assert plan["file_bytes"] == sum(sizes.values())
    assert plan["bytes"] == plan["page_bytes"] + plan["file_bytes"]
    assert plan["page_bytes"] > 7_000 * len(plan["pages"])  # the frame plus the lesson text


def test_a_new_pack_version_changes_what_the_phone_keeps(client, learner):
    before = client.get(f"/api/v1/courses/{COURSE}/offline").get_json()["version"]
    from content_packs.models import Pack

    Pack.update(version="1.1.0", manifest_sha256="1" * 64).execute()
    after = client.get(f"/api/v1/courses/{COURSE}/offline").get_json()
    assert after["version"] != before and after["pack_version"] == "1.1.0"


def test_a_course_not_for_this_learner_has_nothing_to_keep(app, client, login_as, make_catalog):
    make_catalog(open_course=False)
    login_as("learner")
    response = client.get(f"/api/v1/courses/{COURSE}/offline")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "course_not_found"
    assert client.get("/api/v1/courses/nope/none/offline").status_code == 404


def test_keeping_a_course_needs_sign_in(app, client, make_catalog):
    make_catalog(open_course=True)
    response = client.get(f"/api/v1/courses/{COURSE}/offline")
    assert response.status_code == 401
