"""H5P packages: checked, refused with their reason, or made into an html5 app (issue 18)."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from content_packs.importers.convert import import_file
from content_packs.importers.errors import BrokenFile, UnknownFormat

TESTDATA = Path(
    os.environ.get("KRU_TESTDATA")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
)
H5P = TESTDATA / "h5p"


def _app(pack_zip: Path) -> tuple[dict, zipfile.ZipFile]:
    outer = zipfile.ZipFile(pack_zip)
    manifest = json.loads(outer.read("manifest.json"))
    item = manifest["courses"][0]["modules"][0]["items"][0]
    return item, zipfile.ZipFile(io.BytesIO(outer.read(item["file"])))


@pytest.mark.parametrize(
    "name",
    [
        "h5p_standalone_truefalse_hello_world.h5p",
        "lumi_greetingcard_minimal_valid.h5p",
        "lumi_H5P.DragText_drag_the_words.h5p",
    ],
)
def test_valid_h5p_packages_become_an_html5_app_with_the_vendored_player(tmp_path, name):
    report = import_file(H5P / name, tmp_path / "p.zip")
    item, app = _app(tmp_path / "p.zip")
    assert item["type"] == "html5" and item["entry"] == "index.html"
    names = set(app.namelist())
    assert {"index.html", "kru-h5p.js", "player/main.bundle.js", "player/LICENSE"} <= names
    assert "h5p/h5p.json" in names and "h5p/content/content.json" in names
    assert not any(n.startswith("http") or "//" in n for n in names)  # nothing fetched
    assert report.format.startswith("H5P (")


def test_the_true_false_sample_keeps_its_title_and_library(tmp_path):
    report = import_file(H5P / "h5p_standalone_truefalse_hello_world.h5p", tmp_path / "p.zip")
    item, app = _app(tmp_path / "p.zip")
    assert item["title"]["km"] == "Hello World"
    assert report.format == "H5P (H5P.TrueFalse)"
    page = app.read("index.html").decode()
    embedded = re.search(r'id="kru-h5p-json" type="application/json">(.*?)</script>', page, re.S)
    files = json.loads(embedded.group(1))
    assert "h5p/h5p.json" in files and "h5p/H5P.TrueFalse-1.6/library.json" in files


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("lumi_corrupt_archive.h5p", UnknownFormat, "not a format Kru can import"),
        ("lumi_broken-h5p-json.h5p", BrokenFile, "h5p.json is not valid JSON"),
        ("lumi_invalid-h5p-json-schema.h5p", BrokenFile, "lacks the required field mainLibrary"),
        (
            "lumi_missing-preloaded-js.h5p",
            BrokenFile,
            "lists H5P.GreetingCard-1.0/greetingcard.js, which the package lacks",
        ),
        (
            "lumi_invalid-library-directory-name.h5p",
            BrokenFile,
            "library folder H5P.GreetingCard-1.0 does not match its library.json",
        ),
    ],
)
def test_invalid_h5p_samples_are_refused_with_their_reason(tmp_path, name, error, message):
    with pytest.raises(error, match=re.escape(message)):
        import_file(H5P / "invalid" / name, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


def test_content_cannot_close_the_start_pages_script_element(tmp_path):
    src = tmp_path / "evil.h5p"
    with zipfile.ZipFile(H5P / "lumi_greetingcard_minimal_valid.h5p") as zin:
        with zipfile.ZipFile(src, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == "content/content.json":
                    content = json.loads(data)
                    content["greeting"] = "</script><script>parent.document.cookie</script>"
                    data = json.dumps(content).encode()
                zout.writestr(info, data)
    import_file(src, tmp_path / "p.zip")
    _item, app = _app(tmp_path / "p.zip")
    page = app.read("index.html").decode()
    assert page.count("</script>") == 3  # main.bundle.js, the JSON, kru-h5p.js: nothing more


def test_fonts_are_put_inline_so_the_sandbox_need_not_fetch_them(tmp_path):
    import_file(H5P / "h5p_standalone_truefalse_hello_world.h5p", tmp_path / "p.zip")
    _item, app = _app(tmp_path / "p.zip")
    css = {n: app.read(n).decode() for n in app.namelist() if n.endswith(".css")}
    font_urls = re.compile(r"url\((?!data:)[^)]*\.(?:woff2?|ttf|otf|eot)\b")
    assert [n for n, text in css.items() if font_urls.search(text)] == []
    assert "data:font/woff" in css["h5p/FontAwesome-4.5/h5p-font-awesome.min.css"]
