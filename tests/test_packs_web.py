"""Instructor pages and API for packs, the USB panel, and the content file route."""

from __future__ import annotations

import io
import json

import pytest
from playhouse.test_utils import count_queries
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from content_packs.models import Item, Pack
from tests.conftest import api_headers, assert_api_error
from tests.packs_factory import build_pack, install, lesson, media, video
from tests.packs_helpers import rewrite, snapshot


def _upload(client, path, name="pack.zip", **extra):
    data = {"file": (io.BytesIO(path.read_bytes()), name), **extra}
    return client.post(
        "/api/v1/packs",
        data=data,
        headers=api_headers(client),
        content_type="multipart/form-data",
    )


def test_instructor_uploads_a_pack(client, login_as, tmp_path):
    login_as("instructor")
    response = _upload(client, build_pack(tmp_path))
    assert response.status_code == 201
    assert response.get_json()["pack"] == {"id": "demo-pack", "version": "1.0.0", "signed": False}
    assert Pack.get().installed_by.startswith("instructor")


def test_upload_answers_with_each_course_and_where_to_open_and_assign_it(
    client, login_as, tmp_path
):
    login_as("instructor")
    courses = _upload(client, build_pack(tmp_path)).get_json()["courses"]
    assert len(courses) == 1
    course = courses[0]
    pack, _, slug = course["id"].partition("/")
    assert pack == "demo-pack" and course["title"]
    assert course["url"] == f"/learn/courses/{pack}/{slug}"
    assert course["assign_url"] == f"/teach/?assign={pack}/{slug}"


def test_upload_leaves_no_temporary_file(app, client, login_as, tmp_path):
    login_as("instructor")
    _upload(client, build_pack(tmp_path))
    assert not list(app.config["KRU_HOME"].tmp.glob("upload-*"))


def test_learner_cannot_upload(client, login_as, tmp_path):
    login_as("learner")
    assert_api_error(_upload(client, build_pack(tmp_path)), 403, "forbidden")


def test_upload_without_csrf_token_is_refused(client, login_as, tmp_path):
    login_as("instructor")
    response = client.post(
        "/api/v1/packs",
        data={"file": (io.BytesIO(build_pack(tmp_path).read_bytes()), "p.zip")},
        content_type="multipart/form-data",
    )
    assert_api_error(response, 400, "csrf_failed")
    assert Pack.select().count() == 0


def test_upload_without_a_file_is_refused(client, login_as):
    login_as("instructor")
    response = client.post(
        "/api/v1/packs",
        data={"other": "x"},
        headers=api_headers(client),
        content_type="multipart/form-data",
    )
    assert_api_error(response, 400, "upload_missing_file")


def test_upload_of_a_bad_pack_lists_every_problem(app, client, login_as, tmp_path):
    login_as("instructor")
    bad = rewrite(build_pack(tmp_path), tmp_path / "bad.zip", add=[("extra.txt", b"x")])
    before = snapshot(app)
    error = assert_api_error(_upload(client, bad), 400, "file_unlisted")
    assert error["problems"] == [
        {"code": "file_unlisted", "file": "extra.txt", "message": error["message"][11:]}
    ]
    assert snapshot(app) == before


def test_upload_error_is_in_the_users_language(client, login_as, tmp_path, make_user):
    login_as(user=make_user(role="instructor", language="km"))
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    error = assert_api_error(_upload(client, bad), 400, "not_a_zip")
    assert "zip" in error["message"] and "is not a zip file" not in error["message"]


@pytest.fixture
def small_limit(app_config):
    app_config["packs.max_upload_mb"] = 1


def test_upload_over_the_size_limit_is_refused(small_limit, app, client, login_as, tmp_path):
    login_as("instructor")
    big = build_pack(tmp_path, items=[media("pdf", data=b"%PDF" + bytes(1_300_000))])
    # Encoded here (in memory): the test client's spooled body would stay open when the
    # server stops reading early, as it should.
    upload = FileStorage(io.BytesIO(big.read_bytes()), filename="big.zip")
    boundary, body = encode_multipart({"file": upload})
    response = client.post(
        "/api/v1/packs",
        data=body,
        headers=api_headers(client),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    error = assert_api_error(response, 413, "pack_too_large")
    assert "1 MB" in error["message"]
    assert Pack.select().count() == 0
    assert not list(app.config["KRU_HOME"].tmp.glob("upload-*"))


def test_upload_of_an_older_version_is_a_conflict(client, login_as, tmp_path):
    login_as("instructor")
    _upload(client, build_pack(tmp_path, version="2.0.0"))
    assert_api_error(_upload(client, build_pack(tmp_path, version="1.0.0")), 409, "pack_downgrade")


def test_upload_of_an_older_version_with_force(client, login_as, tmp_path):
    login_as("instructor")
    _upload(client, build_pack(tmp_path, version="2.0.0"))
    response = _upload(client, build_pack(tmp_path, version="1.0.0"), force="1")
    assert response.status_code == 201
    assert response.get_json()["upgraded_from"] == "2.0.0"


def test_api_lists_installed_packs(app, client, login_as, tmp_path):
    install(app, build_pack(tmp_path))
    login_as("instructor")
    packs = client.get("/api/v1/packs").get_json()["packs"]
    assert [(p["id"], p["version"], p["signed"]) for p in packs] == [("demo-pack", "1.0.0", False)]


def test_packs_page_shows_unsigned_badge_and_remove_button(app, client, login_as, tmp_path):
    user = login_as("instructor")
    install(app, build_pack(tmp_path), installed_by=user.username)
    html = client.get("/packs/").get_data(as_text=True)
    assert "demo-pack" in html and "badge warn" in html
    assert 'action="/packs/demo-pack/remove"' in html


def test_remove_button_removes_the_pack(app, client, login_as, tmp_path):
    user = login_as("instructor")
    install(app, build_pack(tmp_path), installed_by=user.username)
    page = client.get("/packs/").get_data(as_text=True)
    from tests.conftest import form_csrf

    response = client.post("/packs/demo-pack/remove", data={"csrf_token": form_csrf(page)})
    assert response.status_code == 302
    assert Pack.select().count() == 0


def test_packs_page_counts_courses_and_items(app, client, login_as, make_user, tmp_path):
    install(app, build_pack(tmp_path, items=[lesson("a"), lesson("b"), video("c")]))
    login_as(user=make_user(role="instructor", language="en"))
    html = client.get("/packs/").get_data(as_text=True)
    assert "1 courses, 3 items" in html
    assert "built-in method" not in html


@pytest.fixture
def pack_by_someone_else(app, tmp_path, make_user):
    other = make_user(role="instructor")
    install(app, build_pack(tmp_path), installed_by=other.username)
    return other


def test_instructor_cannot_remove_a_pack_someone_else_installed(
    pack_by_someone_else, client, login_as
):
    login_as("instructor")
    html = client.get("/packs/").get_data(as_text=True)
    assert "demo-pack" in html and 'action="/packs/demo-pack/remove"' not in html
    response = client.delete("/api/v1/packs/demo-pack", headers=api_headers(client))
    assert_api_error(response, 403, "pack_not_yours")
    from tests.conftest import form_csrf

    response = client.post(
        "/packs/demo-pack/remove", data={"csrf_token": form_csrf(html)}, follow_redirects=True
    )
    assert "flash error" in response.get_data(as_text=True)
    assert Pack.select().count() == 1


@pytest.mark.parametrize("installer", ["cli", None])
def test_instructor_cannot_remove_a_pack_installed_from_the_cli(
    app, client, login_as, tmp_path, installer
):
    install(app, build_pack(tmp_path), installed_by=installer)
    login_as("instructor")
    response = client.delete("/api/v1/packs/demo-pack", headers=api_headers(client))
    assert_api_error(response, 403, "pack_not_yours")


def test_admin_removes_any_pack(pack_by_someone_else, client, login_as):
    login_as("admin")
    assert 'action="/packs/demo-pack/remove"' in client.get("/packs/").get_data(as_text=True)
    response = client.delete("/api/v1/packs/demo-pack", headers=api_headers(client))
    assert response.status_code == 200
    assert Pack.select().count() == 0


def test_instructor_removes_their_own_pack_through_the_api(app, client, login_as, tmp_path):
    user = login_as("instructor")
    install(app, build_pack(tmp_path), installed_by=user.username)
    response = client.delete("/api/v1/packs/demo-pack", headers=api_headers(client))
    assert response.status_code == 200 and Pack.select().count() == 0


def test_upload_page_has_progress_bar_and_script(client, login_as):
    login_as("instructor")
    html = client.get("/packs/upload").get_data(as_text=True)
    assert '<progress id="pack-progress"' in html
    assert "js/packs-upload.js" in html


# --- USB drives -------------------------------------------------------------------------


@pytest.fixture
def usb_root(tmp_path, app_config):
    root = tmp_path / "media"
    (root / "kru" / "USB STICK").mkdir(parents=True)
    app_config["packs.usb_roots"] = [str(root)]
    return root


def test_admin_sees_packs_on_usb_drives(usb_root, app, client, login_as, tmp_path):
    zip_path = build_pack(tmp_path)
    (usb_root / "kru" / "USB STICK" / "demo.zip").write_bytes(zip_path.read_bytes())
    login_as("admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="usb-packs"' in html and "demo-pack 1.0.0" in html


def test_admin_installs_from_usb_with_one_click(usb_root, app, client, login_as, tmp_path):
    target = usb_root / "kru" / "USB STICK" / "demo.zip"
    target.write_bytes(build_pack(tmp_path).read_bytes())
    login_as("admin")
    from tests.conftest import form_csrf

    page = client.get("/admin/").get_data(as_text=True)
    response = client.post(
        "/packs/usb/install",
        data={"csrf_token": form_csrf(page), "path": str(target), "next": "/admin/"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    assert Pack.get().pack_id == "demo-pack"


def test_usb_install_refuses_paths_outside_the_usb_roots(usb_root, app, client, login_as, tmp_path):
    elsewhere = build_pack(tmp_path)
    login_as("admin")
    from tests.conftest import form_csrf

    page = client.get("/admin/").get_data(as_text=True)
    response = client.post(
        "/packs/usb/install",
        data={"csrf_token": form_csrf(page), "path": str(elsewhere)},
        follow_redirects=True,
    )
    assert Pack.select().count() == 0
    assert "flash error" in response.get_data(as_text=True)


# --- content files ------------------------------------------------------------------------


@pytest.fixture
def clip(app, tmp_path):
    install(app, build_pack(tmp_path, items=[video("clip"), lesson("intro")]))
    return Item.get(Item.key == "demo-pack/clip").payload["file"]


def test_content_needs_sign_in(client, clip):
    response = client.get(f"/c/{clip['sha256']}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_content_is_served_with_type_etag_and_long_cache(client, login_as, clip):
    login_as("learner")
    response = client.get(f"/c/{clip['sha256']}/clip.mp4")
    assert response.status_code == 200
    assert response.mimetype == "video/mp4"
    assert response.headers["ETag"] == f'"{clip["sha256"]}"'
    assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert len(response.data) == clip["size"]
    response.close()


def test_content_serves_byte_ranges(client, login_as, clip):
    login_as("learner")
    response = client.get(f"/c/{clip['sha256']}", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 10-19/{clip['size']}"
    assert len(response.data) == 10
    response.close()


def test_if_range_with_another_etag_sends_the_whole_file(client, login_as, clip):
    login_as("learner")
    response = client.get(
        f"/c/{clip['sha256']}", headers={"Range": "bytes=0-9", "If-Range": '"other"'}
    )
    assert response.status_code == 200 and len(response.data) == clip["size"]
    response.close()


def test_unchanged_content_is_not_sent_again(client, login_as, clip):
    login_as("learner")
    response = client.get(f"/c/{clip['sha256']}", headers={"If-None-Match": f'"{clip["sha256"]}"'})
    response.close()
    assert response.status_code == 304


def test_content_type_comes_from_the_pack_not_the_url(client, login_as, clip):
    login_as("learner")
    response = client.get(f"/c/{clip['sha256']}/evil.html")
    assert response.mimetype == "video/mp4"
    response.close()


@pytest.mark.parametrize("sha", ["0" * 64, "not-a-sha", "../" * 5 + "etc/passwd"])
def test_unknown_content_is_404(client, login_as, clip, sha):
    login_as("learner")
    assert client.get(f"/c/{sha}").status_code == 404


def test_content_route_uses_two_queries(client, login_as, clip):
    login_as("learner")
    with count_queries() as counter:
        response = client.get(f"/c/{clip['sha256']}")
        response.close()
    assert counter.count <= 2  # the signed-in user, the file's pack path


def test_lesson_html_in_a_pack_is_served_sandboxed(app, client, login_as, tmp_path):
    install(
        app,
        build_pack(tmp_path, pack_id="html-pack", items=[lesson("page", html=True)]),
    )
    ref = json.loads(Item.get(Item.key == "html-pack/page").data)["file"]
    login_as("learner")
    response = client.get(f"/c/{ref['sha256']}")
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    response.close()
