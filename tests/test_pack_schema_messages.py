"""A manifest that breaks the schema is explained in plain words, never with a regex, and
``kru pack install`` lists every problem as the upload page does (issue 12)."""

from __future__ import annotations

import re

import pytest

from content_packs.errors import InvalidPack
from edge_server.web.i18n import load_catalog
from tests.packs_factory import build_pack, install
from tests.packs_helpers import edit_manifest, snapshot

# What jsonschema would have said: a regex, a Python list or "is not of type".
PROGRAMMER_WORDS = re.compile(r"\^|\$'|\[a-z|does not match|is not of type|regexes|\\\\|\['")


def _item(m):
    return m["courses"][0]["modules"][0]["items"][0]


CASES = {
    "slug": (lambda m: m.update(id="Not A Slug"), "manifest.id", "lowercase letters"),
    "version": (lambda m: m.update(version="one"), "manifest.version", "such as 1.0.0"),
    "language": (lambda m: m.update(language="Khmer"), "manifest.language", "such as km or en"),
    "path": (
        lambda m: m["files"][0].update(path="../evil.md"),
        "manifest.files[0].path",
        "without .. parts",
    ),
    "sha256": (
        lambda m: m["files"][0].update(sha256="xyz"),
        "manifest.files[0].sha256",
        "64 characters 0-9 and a-f",
    ),
    "item type": (
        lambda m: _item(m).update(type="game"),
        "items[0].type",
        "must be one of lesson, video",
    ),
    "missing field": (lambda m: m.pop("license"), "manifest", "missing the field license"),
    "unknown field": (lambda m: m.update(colour="red"), "manifest", "does not know: colour"),
    "field of another type": (
        lambda m: _item(m).update(poster="media/x.png"),
        "items[0]",
        "a lesson item cannot have the field poster",
    ),
    "type": (lambda m: m.update(title="Title"), "manifest.title", "group of fields"),
    "empty list": (lambda m: m.update(authors=[]), "manifest.authors", "must not be empty"),
    "negative size": (
        lambda m: m["files"][0].update(size=-1),
        "manifest.files[0].size",
        "must be 0 or more",
    ),
}


@pytest.fixture
def good(tmp_path):
    return build_pack(tmp_path)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_schema_problems_are_in_plain_words(app, tmp_path, good, case):
    change, where, words = CASES[case]
    bad = edit_manifest(good, tmp_path / "bad.zip", change)
    before = snapshot(app)
    with pytest.raises(InvalidPack) as excinfo:
        install(app, bad)
    assert snapshot(app) == before
    messages = [p.message for p in excinfo.value.problems]
    assert any(where in m and words in m for m in messages), messages
    assert not [m for m in messages if PROGRAMMER_WORDS.search(m)], messages


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_schema_problems_read_in_khmer(app, tmp_path, good, case):
    change, _where, _words = CASES[case]
    bad = edit_manifest(good, tmp_path / "bad.zip", change)
    with pytest.raises(InvalidPack) as excinfo:
        install(app, bad)
    khmer = load_catalog("km").gettext
    for problem in excinfo.value.problems:
        assert khmer(problem.template) != problem.template, problem.template
        assert "manifest" in problem.localized(khmer)


def test_the_upload_api_lists_every_problem_in_plain_words(client, login_as, tmp_path, good):
    import io

    from tests.conftest import api_headers, assert_api_error

    def spoil(m):
        m.update(id="Not A Slug", version="one", colour="red")

    bad = edit_manifest(good, tmp_path / "bad.zip", spoil)
    login_as("instructor")
    response = client.post(
        "/api/v1/packs",
        data={"file": (io.BytesIO(bad.read_bytes()), "bad.zip")},
        headers=api_headers(client),
        content_type="multipart/form-data",
    )
    error = assert_api_error(response, 400, "manifest_schema")
    assert len(error["problems"]) == 3
    assert not [p for p in error["problems"] if PROGRAMMER_WORDS.search(p["message"])]


def test_cli_install_lists_every_problem(runner, tmp_path, good):
    def spoil(m):
        m.update(id="Not A Slug", version="one", colour="red")

    bad = edit_manifest(good, tmp_path / "bad.zip", spoil)
    result = runner("pack", "install", str(bad))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    assert all(line.startswith("Error: manifest.json: manifest") for line in lines), lines
    assert any("manifest.colour" in line or "colour" in line for line in lines)
    assert not [line for line in lines if PROGRAMMER_WORDS.search(line)]
