"""Make the sample pack's media from text: slides, a short captioned video, an image, a PDF.

Run once after changing the texts below; the results are committed (each a few KB):

    .venv/bin/python content_packs/examples/make_sample_media.py

Needs Debian's ``chromium`` (renders Khmer with the bundled Noto Sans Khmer font) and
``ffmpeg`` (libx264). Nothing here runs at install time.
"""

# ruff: noqa: E501, S603 - a developer tool with fixed argument lists and long Khmer lines

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACK = HERE / "classroom-reading"
FONT = (
    HERE.parent.parent / "edge_server" / "web" / "static" / "fonts" / "NotoSansKhmer-Regular.woff2"
)

STYLE = """
@font-face { font-family: Khmer; src: url("%(font)s") format("woff2"); }
html, body { margin: 0; }
body { font-family: Khmer, sans-serif; }
"""

SLIDES = [
    ("១. មុនពេលអាន", "បង្ហាញក្របសៀវភៅ ហើយសួរ៖ «តើរឿងនេះនិយាយអំពីអ្វី?»"),
    ("២. ពេលកំពុងអាន", "អានឮៗ យឺតៗ ច្បាស់ៗ ហើយចង្អុលរូបភាព"),
    ("៣. ក្រោយពេលអាន", "សួរសំណួរខ្លីៗ ហើយឱ្យសិស្សនិយាយតាមគូ"),
]

SLIDE_HTML = """<!doctype html><meta charset="utf-8"><style>%(style)s
body { width: 320px; height: 180px; background: #0b5cad; color: #fff; display: flex;
  flex-direction: column; justify-content: center; padding: 0 18px; box-sizing: border-box; }
h1 { font-size: 26px; margin: 0 0 8px; } p { font-size: 16px; line-height: 1.7; margin: 0; }
</style><h1>%(title)s</h1><p>%(text)s</p>"""

CORNER_HTML = """<!doctype html><meta charset="utf-8"><style>%(style)s
body { width: 400px; height: 260px; background: #fffdf5; color: #1d2330; }
.room { position: absolute; inset: 10px; border: 3px solid #555f6f; }
.box { position: absolute; border: 2px solid #0b5cad; background: #e8f1fb; font-size: 14px;
  display: flex; align-items: center; justify-content: center; text-align: center; }
</style><div class="room"></div>
<div class="box" style="left:20px;top:20px;width:150px;height:70px">ជ្រុងអាន<br>កន្ទេល និងធ្នើសៀវភៅ</div>
<div class="box" style="left:230px;top:20px;width:140px;height:50px">ក្ដារខៀន</div>
<div class="box" style="left:40px;top:130px;width:90px;height:50px">ក្រុម ១</div>
<div class="box" style="left:150px;top:130px;width:90px;height:50px">ក្រុម ២</div>
<div class="box" style="left:260px;top:130px;width:90px;height:50px">ក្រុម ៣</div>
<div class="box" style="left:130px;top:200px;width:140px;height:36px">តុគ្រូ</div>"""

HANDOUT_HTML = """<!doctype html><meta charset="utf-8"><style>%(style)s
@page { size: A4; margin: 18mm; }
body { font-size: 12pt; line-height: 1.8; color: #000; }
h1 { font-size: 18pt; margin: 0 0 4mm; } table { border-collapse: collapse; width: 100%%; }
th, td { border: 1px solid #444; padding: 2mm; height: 9mm; text-align: left; }
</style>
<h1>តារាងតាមដានការអានប្រចាំសប្ដាហ៍</h1>
<p>ថ្នាក់ទី ........ សប្ដាហ៍ទី ........ គ្រូ ...........................</p>
<p>សម្គាល់៖ ✓ = អានបានត្រឹមត្រូវ, ~ = អានបានខ្លះ, ✗ = ត្រូវការជំនួយ</p>
<table><tr><th>ឈ្មោះសិស្ស</th><th>ច័ន្ទ</th><th>អង្គារ</th><th>ពុធ</th><th>ព្រហស្បតិ៍</th><th>សុក្រ</th><th>កំណត់សម្គាល់</th></tr>
%(rows)s</table>
<p>គន្លឹះ៖ ស្ដាប់សិស្ស ៣ ទៅ ៥ នាក់ក្នុងមួយថ្ងៃ ពេលអានជាគូ។ ក្នុងមួយសប្ដាហ៍ អ្នកនឹងស្ដាប់សិស្សគ្រប់គ្នា។</p>
<p style="font-size:9pt">Reading tracking sheet · Classroom management for early-grade reading · CC BY 4.0</p>"""

CAPTIONS = """WEBVTT

00:00:00.000 --> 00:00:03.000
មុនពេលអាន បង្ហាញក្របសៀវភៅ ហើយសួរសិស្សថា តើរឿងនេះនិយាយអំពីអ្វី?

00:00:03.000 --> 00:00:06.000
ពេលកំពុងអាន អានឮៗ យឺតៗ និងច្បាស់ៗ ហើយចង្អុលរូបភាព។

00:00:06.000 --> 00:00:09.000
ក្រោយពេលអាន សួរសំណួរខ្លីៗ ហើយឱ្យសិស្សនិយាយតាមគូ។
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("install Debian's chromium first: apt-get install chromium")
    return found


def _page(tmp: Path, name: str, html: str) -> Path:
    path = tmp / name
    path.write_text(html, encoding="utf-8")
    return path


def _render(page: Path, out: Path, size: str) -> None:
    subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={size}",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main() -> None:
    style = STYLE % {"font": FONT.as_uri()}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        frames = []
        for i, (title, text) in enumerate(SLIDES):
            page = _page(
                tmp, f"slide{i}.html", SLIDE_HTML % {"style": style, "title": title, "text": text}
            )
            frame = tmp / f"slide{i}.png"
            _render(page, frame, "320,180")
            frames.append(frame)
        shutil.copy(frames[0], PACK / "media" / "read-aloud-poster.png")
        listing = tmp / "frames.txt"
        listing.write_text(
            "".join(f"file '{f}'\nduration 3\n" for f in frames) + f"file '{frames[-1]}'\n"
        )
        subprocess.run(
            [
                shutil.which("ffmpeg") or "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-vf",
                "fps=5,format=yuv420p",
                "-c:v",
                "libx264",
                "-profile:v",
                "baseline",
                "-crf",
                "30",
                "-movflags",
                "+faststart",
                "-an",
                str(PACK / "media" / "read-aloud.mp4"),
            ],
            check=True,
            timeout=120,
        )
        (PACK / "media" / "read-aloud.km.vtt").write_text(CAPTIONS, encoding="utf-8")
        corner = _page(tmp, "corner.html", CORNER_HTML % {"style": style})
        _render(corner, PACK / "media" / "reading-corner.png", "400,260")
        rows = "".join("<tr>" + "<td></td>" * 7 + "</tr>" for _ in range(12))
        handout = _page(tmp, "handout.html", HANDOUT_HTML % {"style": style, "rows": rows})
        subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-pdf-header-footer",
                f"--print-to-pdf={PACK / 'handouts' / 'reading-tracker.pdf'}",
                handout.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


if __name__ == "__main__":
    main()
