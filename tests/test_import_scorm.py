"""SCORM packages become html5 activities with the SCORM run time; broken ones, cmi5 and xAPI
packages are refused with the reason named (issue 18)."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from content_packs.importers.convert import import_file
from content_packs.importers.errors import BrokenFile, NotSupported
from content_packs.importers.scorm_app import inject
from content_packs.manifest import semver_key

TESTDATA = Path(
    os.environ.get("KRU_TESTDATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
)
SCORM = TESTDATA / "scorm"


def _package(tmp_path: Path, manifest: str, launch_files: bool) -> Path:
    """Zip an edge-case manifest alone, or with a small page for each resource href."""
    src = tmp_path / "package.zip"
    data = (SCORM / "edge-manifests" / f"{manifest}.imsmanifest.xml").read_bytes()
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("imsmanifest.xml", data)
        if launch_files:
            for href in set(re.findall(rb'href="([^"]+)"', data)):
                zf.writestr(href.decode(), b"<!doctype html><title>x</title>")
    return src


@pytest.mark.parametrize(
    ("manifest", "launch_files", "message"),
    [
        ("MalformedXml_SCORM12", False, "imsmanifest.xml is not well-formed XML"),
        ("MissingLaunchUrl_SCORM12", True, "resource resource_1 has no launch file (href)"),
        (
            "ItemWithNonExistentResourceId_SCORM12",
            True,
            "item item_1 names resource non_existent_resource, which is not there",
        ),
        ("InvalidMissingOrgIdentifier_SCORM20043rdEdition", True, "has no identifier"),
        ("InvalidFileReferences_SCORM12", False, "is not in the package"),
    ],
)
def test_broken_scorm_manifests_are_refused_naming_the_problem(
    tmp_path, manifest, launch_files, message
):
    src = _package(tmp_path, manifest, launch_files)
    with pytest.raises(BrokenFile, match=re.escape(message)):
        import_file(src, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


def _manifest(pack: Path) -> dict:
    with zipfile.ZipFile(pack) as zf:
        return json.loads(zf.read("manifest.json"))


def _items(manifest: dict) -> list[dict]:
    return [i for m in manifest["courses"][0]["modules"] for i in m["items"]]


@pytest.mark.parametrize(
    ("manifest", "version"),
    [
        ("MinimalValid_SCORM20043rdEdition", "2004"),
        ("ContentPackagingNoSchemaVersion_SCORM20042ndEdition", "2004"),
        ("LaunchUrlFromNestedItem_SCORM12", "1.2"),
    ],
)
def test_valid_manifests_become_scorm_activities(tmp_path, manifest, version):
    src = _package(tmp_path, manifest, launch_files=True)
    report = import_file(src, tmp_path / "p.zip")
    assert report.format == f"SCORM {version}"
    items = _items(_manifest(tmp_path / "p.zip"))
    assert items and {i["scorm"] for i in items} == {version}
    assert {i["type"] for i in items} == {"html5"}


@pytest.mark.parametrize(
    ("name", "version", "count", "title"),
    [
        ("golf_scorm12_ContentPackagingSingleSCO.zip", "1.2", 1, "Golf Explained"),
        ("golf_scorm12_ContentPackagingOneFilePerSCO.zip", "1.2", 18, None),
        ("golf_scorm12_RuntimeBasicCalls.zip", "1.2", 1, "Golf Explained"),
        ("golf_scorm2004_3rd_RuntimeBasicCalls.zip", "2004", 1, None),
        ("golf_scorm2004_4th_SequencingPostTestRollup.zip", "2004", 5, None),
    ],
)
def test_golf_packages_import_one_item_per_sco(tmp_path, name, version, count, title):
    report = import_file(SCORM / name, tmp_path / "p.zip")
    manifest = _manifest(tmp_path / "p.zip")
    items = _items(manifest)
    assert len(items) == count
    assert {i["file"] for i in items} == {"scorm.zip"}  # one app zip for every SCO
    assert all(i["scorm"] == version for i in items)
    if title:
        assert items[0]["title"]["km"] == title
    assert len(report.converted) == count
    with (
        zipfile.ZipFile(tmp_path / "p.zip") as zf,
        zipfile.ZipFile(io.BytesIO(zf.read("scorm.zip"))) as app,
    ):
        names = set(app.namelist())
        library = "scorm12.min.js" if version == "1.2" else "scorm2004.min.js"
        assert {f"kru-scorm/{library}", "kru-scorm/sco.js", "kru-scorm/frame.js"} <= names
        assert "kru-scorm/LICENSE" in names
        launch = app.read(items[0]["entry"]).decode("utf-8", "replace")
        head = launch[: launch.lower().index("<head") + 200]
        assert f'kru-scorm/sco.js" data-scorm="{version}"' in head


def test_the_pack_id_and_version_come_from_the_manifest(tmp_path):
    src = SCORM / "golf_scorm12_RuntimeBasicCalls.zip"
    renamed = tmp_path / "Golf copy (2).zip"
    renamed.write_bytes(src.read_bytes())
    first = import_file(src, tmp_path / "a.zip", when=datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    second = import_file(renamed, tmp_path / "b.zip", when=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    assert first.pack_id == second.pack_id == "com-scorm-golfsamples-runtime-basicruntime-12"
    assert first.version.startswith("1.0.20260105080000+")  # version="1" of the manifest
    assert semver_key(second.version) > semver_key(first.version)


def test_other_html_pages_get_the_frame_script_only(tmp_path):
    import_file(SCORM / "golf_scorm12_RuntimeBasicCalls.zip", tmp_path / "p.zip")
    with (
        zipfile.ZipFile(tmp_path / "p.zip") as zf,
        zipfile.ZipFile(io.BytesIO(zf.read("scorm.zip"))) as app,
    ):
        page = app.read("shared/assessmenttemplate.html").decode("utf-8", "replace")
        assert '<script src="../kru-scorm/frame.js"></script>' in page
        assert "sco.js" not in page


@pytest.mark.parametrize(
    ("page", "data", "expected"),
    [
        (
            "a.html",
            b"<html><head><title>x</title>",
            b'<html><head><script src="kru-scorm/frame.js"></script><title>',
        ),
        ("d/a.htm", b"<HTML><body>x", b'<HTML><script src="../kru-scorm/frame.js"></script><body>'),
        (
            "a.html",
            b"<!DOCTYPE html><p>x",
            b'<!DOCTYPE html><script src="kru-scorm/frame.js"></script><p>',
        ),
    ],
)
def test_the_scripts_go_first_in_the_head(page, data, expected):
    assert inject(page, data, "1.2", launch=False).startswith(expected)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cmi5_catapult_geology_single_au_masteryscore.zip", "cmi5 packages need an xAPI"),
    ],
)
def test_cmi5_packages_are_recognised_and_refused_clearly(tmp_path, name, message):
    with pytest.raises(NotSupported, match=re.escape(message)):
        import_file(SCORM / name, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


@pytest.mark.parametrize(
    "name", ["jcputney_basic_xapi_course.zip", "rustici_GolfExample_TCAPI_no_TinCanJS.zip"]
)
def test_xapi_tin_can_packages_are_refused(tmp_path, name):
    with pytest.raises(NotSupported, match="xAPI"):
        import_file(TESTDATA / "xapi" / "tincan_package" / name, tmp_path / "p.zip")


def test_the_web_upload_takes_a_scorm_package_with_the_manifest_id(app, client, login_as):
    from tests.conftest import api_headers

    login_as("instructor")
    data = (SCORM / "golf_scorm12_RuntimeBasicCalls.zip").read_bytes()

    def upload(name: str):
        return client.post(
            "/api/v1/packs",
            data={"file": (io.BytesIO(data), name)},
            headers=api_headers(client),
            content_type="multipart/form-data",
        )

    first = upload("golf.zip").get_json()
    assert first["pack"]["id"] == "com-scorm-golfsamples-runtime-basicruntime-12", first
    assert first["import"]["format"] == "SCORM 1.2"
    second = upload("golf.zip").get_json()  # the same file again: same pack, nothing lost
    assert second["pack"]["id"] == first["pack"]["id"], second
    assert second["already_installed"] or second["upgraded_from"] == first["pack"]["version"]
