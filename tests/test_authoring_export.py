"""``kru pack export``: the source folder builds back into the same manifest and files."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from content_packs.build import build_pack
from tests.authoring_helpers import api, three_item_course

SAMPLE = Path(__file__).resolve().parent.parent / "content_packs/examples/classroom-reading"


def contents(zip_path: Path) -> dict[str, bytes]:
    """Return every entry but the signature (made anew by whoever signs)."""
    with zipfile.ZipFile(zip_path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n != "manifest.sig"}


def test_the_sample_pack_exports_and_builds_back_byte_for_byte(runner, tmp_path):
    build_pack(SAMPLE, tmp_path / "a.zip")
    result = runner("pack", "export", str(tmp_path / "a.zip"), "-o", str(tmp_path / "src"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "src/pack.toml").is_file()
    build_pack(tmp_path / "src", tmp_path / "b.zip")
    assert contents(tmp_path / "b.zip") == contents(tmp_path / "a.zip")


def test_a_large_media_file_exports_unchanged(runner, tmp_path):
    src = tmp_path / "in"
    (src / "media").mkdir(parents=True)
    (src / "media/clip.mp4").write_bytes(os.urandom(6 * 1024 * 1024))
    (src / "lesson.md").write_text(
        '+++\nslug = "l"\ntitle_km = "ក"\n+++\n+++\nstarts like front matter\n'
    )
    (src / "pack.toml").write_text(
        'id = "big"\nversion = "2.1.0"\nlicense = "CC-BY-4.0"\nauthors = ["t"]\n'
        'title_km = "ធំ"\ntitle_en = "Big"\n[[courses]]\nslug = "c"\ntitle_km = "វគ្គ"\n'
        '[[courses.modules]]\nslug = "m"\ntitle_km = "ម"\n'
        'items = ["lesson.md", { file = "media/clip.mp4", title_km = "វីដេអូ" }]\n'
    )
    build_pack(src, tmp_path / "a.zip")
    assert (
        runner("pack", "export", str(tmp_path / "a.zip"), "-o", str(tmp_path / "o")).exit_code == 0
    )
    build_pack(tmp_path / "o", tmp_path / "b.zip")
    assert contents(tmp_path / "b.zip") == contents(tmp_path / "a.zip")


def test_a_published_draft_exports_from_the_site_and_builds_back(
    client, login_as, runner, tmp_path, app
):
    login_as("instructor")
    draft_id = three_item_course(client)
    pack_id = api(client, "POST", f"/api/v1/authoring/courses/{draft_id}/publish").get_json()[
        "pack"
    ]["id"]
    with client.get(f"/api/v1/packs/{pack_id}/download") as response:
        assert response.status_code == 200
        (tmp_path / "published.zip").write_bytes(response.data)
    result = runner("pack", "export", pack_id, "-o", str(tmp_path / "src"))
    assert result.exit_code == 0, result.output
    build_pack(tmp_path / "src", tmp_path / "rebuilt.zip")
    assert contents(tmp_path / "rebuilt.zip") == contents(tmp_path / "published.zip")


@pytest.mark.parametrize("target", ["not-installed", "file"])
def test_export_of_something_that_is_not_a_pack_fails_with_one_line(runner, tmp_path, target):
    if target == "file":
        (tmp_path / "x.zip").write_bytes(b"not a zip")
        target = str(tmp_path / "x.zip")
    result = CliRunnerResult = runner("pack", "export", target, "-o", str(tmp_path / "o"))
    assert CliRunnerResult.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_export_refuses_a_folder_that_is_not_empty(runner, tmp_path):
    build_pack(SAMPLE, tmp_path / "a.zip")
    (tmp_path / "o").mkdir()
    (tmp_path / "o/keep.txt").write_text("mine")
    result = runner("pack", "export", str(tmp_path / "a.zip"), "-o", str(tmp_path / "o"))
    assert result.exit_code == 1 and "not an empty folder" in result.output
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["keep.txt"]
