"""An ``.h5p`` package -> an html5 app zip that plays it with the vendored h5p-standalone.

The app zip holds the package under ``h5p/``, the player under ``player/`` and a start
page. The app runs in the same sandbox as any html5 app (opaque origin, no cookies), so:

* the JSON files the player would fetch (h5p.json, content.json, each library.json) are
  put into the start page and answered from there, as the sandbox may not fetch them;
* every xAPI statement the activity emits is sent to the item page with
  ``parent.postMessage({"kru": "xapi", "statement": ...}, "*")``; the item page
  (edge_server/site/static/learn/xapi-bridge.js) records a scored statement as a Kru event.
"""

from __future__ import annotations

import base64
import io
import json
import posixpath
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from ..build import _zip_info
from ..zipsafe import read_member

PLAYER = Path(__file__).with_name("vendor") / "h5p-standalone"
MAX_JSON = 2 * 1024 * 1024
MAX_FONT = 8 * 1024 * 1024

START_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>html, body {{ margin: 0; padding: 0; }}</style>
<script src="player/main.bundle.js"></script>
</head>
<body>
<div id="h5p"></div>
<script id="kru-h5p-json" type="application/json">{files}</script>
<script src="kru-h5p.js"></script>
</body>
</html>
"""

BOOT_JS = """/* Start h5p-standalone in Kru's sandbox; pass xAPI statements to the item page. */
(function () {
  "use strict";
  var base = location.href.replace(/[?#].*$/, "").replace(/[^/]*$/, "");
  var files = JSON.parse(document.getElementById("kru-h5p-json").textContent);
  var realFetch = window.fetch ? window.fetch.bind(window) : null;
  window.fetch = function (url, options) {  // the sandbox may not fetch: answer from the page
    var href = String(url && url.url ? url.url : url);
    if (href.indexOf(base) === 0) { href = href.slice(base.length); }
    href = href.replace(/^\\.?\\//, "");
    if (Object.prototype.hasOwnProperty.call(files, href)) {
      return Promise.resolve(new Response(files[href], {
        status: 200, headers: { "Content-Type": "application/json" }
      }));
    }
    return realFetch ? realFetch(url, options) : Promise.reject(new Error("no fetch"));
  };
  var options = {
    h5pJsonPath: base + "h5p",
    frameJs: base + "player/frame.bundle.js",
    frameCss: base + "player/styles/h5p.css",
    embedType: "div",  // an inner iframe would get its own opaque origin in the sandbox
    frame: false,
    copyright: false,
    export: false,
    icon: false,
    fullScreen: false
  };
  function send(event) {
    var statement = event && event.data && event.data.statement;
    if (statement) { parent.postMessage({ kru: "xapi", statement: statement }, "*"); }
  }
  var hooked = false;
  function hook() {  // H5P's dispatcher exists once the player's frame script has run
    if (hooked) { return; }
    if (window.H5P && window.H5P.externalDispatcher) {
      hooked = true;
      window.H5P.externalDispatcher.on("xAPI", send);
      return;
    }
    setTimeout(hook, 100);
  }
  hook();
  new H5PStandalone.H5P(document.getElementById("h5p"), options).then(hook, function (err) {
    if (window.console) { console.error("H5P player: " + err); }
  });
})();
"""


def _json_files(zf: zipfile.ZipFile) -> dict[str, str]:
    wanted = [
        n
        for n in zf.namelist()
        if n in ("h5p.json", "content/content.json")
        or (n.endswith("/library.json") and n.count("/") == 1)
    ]
    return {f"h5p/{n}": b"".join(read_member(zf, n, MAX_JSON)).decode("utf-8-sig") for n in wanted}


_FONT_URL = re.compile(
    r"""url\(\s*(['"]?)([^'")]+?\.(woff2|woff|ttf|otf|eot))(\?[^'")#]*)?(#[^'")]*)?\1\s*\)""", re.I
)
FONT_TYPES = {"woff2": "font/woff2", "woff": "font/woff", "ttf": "font/ttf", "otf": "font/otf"}
FONT_TYPES["eot"] = "application/vnd.ms-fontobject"


def inline_fonts(css: str, css_path: str, read: Callable[[str], bytes | None]) -> str:
    """Return ``css`` with its font files put inline as data: URLs.

    The sandboxed app has an opaque origin, and browsers fetch fonts with CORS, which the
    app's own server does not answer; inline fonts need no fetch.
    """

    def swap(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "http:", "https:", "//")):
            return match.group(0)
        path = posixpath.normpath(posixpath.join(posixpath.dirname(css_path), ref))
        data = read(path)
        if data is None:
            return match.group(0)
        kind = FONT_TYPES[match.group(3).lower()]
        return f"url(data:{kind};base64,{base64.b64encode(data).decode('ascii')})"

    return _FONT_URL.sub(swap, css)


def _escape_script(text: str) -> str:
    """Return JSON safe inside a <script> element (no closing tag, no comment opener)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def app_zip(zf: zipfile.ZipFile, title: str, lang: str) -> bytes:
    """Return the html5 app zip that plays the checked H5P package ``zf``."""
    import html

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        files = json.dumps(_json_files(zf), ensure_ascii=False)
        page = START_PAGE.format(
            lang=html.escape(lang or "km"), title=html.escape(title), files=_escape_script(files)
        )
        out.writestr(_zip_info("index.html", ".html"), page.encode("utf-8"))
        out.writestr(_zip_info("kru-h5p.js", ".js"), BOOT_JS.encode("utf-8"))

        def player_file(rel: str) -> bytes | None:
            path = PLAYER / rel
            return path.read_bytes() if rel and path.is_file() else None

        names = set(zf.namelist())

        def package_file(rel: str) -> bytes | None:
            return b"".join(read_member(zf, rel, MAX_FONT)) if rel in names else None

        for path in sorted(p for p in PLAYER.rglob("*") if p.is_file()):
            rel = path.relative_to(PLAYER).as_posix()
            if rel in ("README.md",):
                continue
            data = path.read_bytes()
            if path.suffix == ".css":
                data = inline_fonts(data.decode("utf-8"), rel, player_file).encode("utf-8")
            out.writestr(_zip_info(f"player/{rel}", path.suffix.lower()), data)
        for info in zf.infolist():
            if info.is_dir():
                continue
            data = b"".join(read_member(zf, info.filename, info.file_size))
            if info.filename.lower().endswith(".css"):
                css = data.decode("utf-8", errors="replace")
                data = inline_fonts(css, info.filename, package_file).encode("utf-8")
            name = f"h5p/{info.filename}"
            out.writestr(_zip_info(name, Path(info.filename).suffix.lower()), data)
    return buf.getvalue()
