"""SCORM, cmi5 and xAPI packages: checked and refused with the reason named (issue 18)."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest

from content_packs.importers.convert import import_file
from content_packs.importers.errors import BrokenFile, NotSupported

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


@pytest.mark.parametrize(
    ("manifest", "version"),
    [
        ("MinimalValid_SCORM20043rdEdition", "2004"),
        ("ContentPackagingNoSchemaVersion_SCORM20042ndEdition", "2004"),
        ("LaunchUrlFromNestedItem_SCORM12", "1.2"),
    ],
)
def test_valid_manifests_are_read_and_the_refusal_says_what_they_hold(tmp_path, manifest, version):
    src = _package(tmp_path, manifest, launch_files=True)
    with pytest.raises(NotSupported, match=f"SCORM {re.escape(version)} package with"):
        import_file(src, tmp_path / "p.zip")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("golf_scorm12_ContentPackagingSingleSCO.zip", "SCORM 1.2 package with 1 SCOs"),
        ("golf_scorm12_ContentPackagingOneFilePerSCO.zip", "SCORM 1.2 package with 18 SCOs"),
        ("golf_scorm2004_4th_SequencingPostTestRollup.zip", "SCORM 2004 package with 5 SCOs"),
        ("cmi5_catapult_geology_single_au_masteryscore.zip", "cmi5 packages need an xAPI"),
    ],
)
def test_real_packages_are_recognised_and_refused_clearly(tmp_path, name, message):
    with pytest.raises(NotSupported, match=re.escape(message)):
        import_file(SCORM / name, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


@pytest.mark.parametrize(
    "name", ["jcputney_basic_xapi_course.zip", "rustici_GolfExample_TCAPI_no_TinCanJS.zip"]
)
def test_xapi_tin_can_packages_are_refused(tmp_path, name):
    with pytest.raises(NotSupported, match="xAPI"):
        import_file(TESTDATA / "xapi" / "tincan_package" / name, tmp_path / "p.zip")
