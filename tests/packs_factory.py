"""Small real content packs for tests, made by the real build code.

    from tests.packs_factory import build_pack, install, lesson, quiz, video
    zip_path = build_pack(tmp_path, items=[lesson("intro", body="# សួស្តី"), quiz("check")])
    install(app, zip_path)          # into the test app's data home

Item keys in the catalog are ``<pack id>/<slug>``. Items go into one course (slug
``course``) in one module (slug ``module-1``) unless an item names ``module``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import tomli_w

from content_packs.build import build_pack as _build
from content_packs.install import InstallResult, install_pack

EXAMPLE_MEDIA = Path(__file__).resolve().parent.parent / "content_packs/examples/classroom-reading"
_seq = itertools.count(1)

# A 1x1 PNG and a minimal PDF: real files, a few hundred bytes.
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000020101a2f5d3b40000000049454e44ae426082"
)
PDF_MIN = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
VTT_KM = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nសួស្តី គ្រូបង្រៀន\n"
DEFAULT_QUESTIONS = [
    {
        "id": "q1",
        "type": "single",
        "prompt_km": "តើសិស្សគួរអានសៀវភៅរៀងរាល់ថ្ងៃទេ?",
        "prompt_en": "Should pupils read every day?",
        "choices": [
            {"id": "yes", "text_km": "បាទ/ចាស", "text_en": "Yes"},
            {"id": "no", "text_km": "ទេ", "text_en": "No"},
        ],
        "answer": "yes",
        "feedback_correct_km": "ត្រឹមត្រូវ",
        "feedback_wrong_km": "សូមព្យាយាមម្តងទៀត",
    },
    {"id": "q2", "type": "true_false", "prompt_km": "ការអានជួយសិស្ស។", "answer": True},
]


RUBRIC = [
    {
        "id": "clear",
        "title_km": "ច្បាស់លាស់",
        "title_en": "Clear",
        "levels": [
            {"id": "no", "label_km": "មិនទាន់", "label_en": "Not yet", "points": 0},
            {"id": "yes", "label_km": "ល្អ", "label_en": "Good", "points": 1},
        ],
    }
]


def lesson(slug: str = "lesson-1", body: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Markdown lesson (``html=True`` for an HTML lesson)."""
    return {"type": "lesson", "slug": slug, "body": body, **extra}


def quiz(slug: str = "quiz-1", questions: list[dict] | None = None, **extra: Any) -> dict:
    """A quiz; ``questions`` default to one single-choice and one true/false question."""
    return {"type": "quiz", "slug": slug, "questions": questions or DEFAULT_QUESTIONS, **extra}


def video(slug: str = "video-1", **extra: Any) -> dict[str, Any]:
    """A tiny video with Khmer captions (the sample pack's clip when present)."""
    return {"type": "video", "slug": slug, **extra}


def media(kind: str, slug: str | None = None, **extra: Any) -> dict[str, Any]:
    """An image, pdf, audio or html5 item with small real content, or a task or observation
    form with a one-criterion rubric."""
    return {"type": kind, "slug": slug or f"{kind}-1", **extra}


def video_bytes() -> bytes:
    clip = EXAMPLE_MEDIA / "media" / "read-aloud.mp4"
    return clip.read_bytes() if clip.exists() else b"\0\0\0\x18ftypmp42" + b"\0" * 64


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def write_source(
    folder: Path,
    pack_id: str = "demo-pack",
    version: str = "1.0.0",
    items: list[dict[str, Any]] | None = None,
    open_course: bool = True,
    extra_files: dict[str, bytes | str] | None = None,
) -> Path:
    """Write a pack source folder (pack.toml, lessons, quizzes, media) and return it."""
    items = items if items is not None else [lesson(), quiz()]
    modules: dict[str, list] = {}
    for spec in items:
        spec = dict(spec)
        kind, slug = spec.pop("type"), spec.pop("slug")
        module = spec.pop("module", "module-1")
        title = {
            "title_km": spec.pop("title_km", f"មេរៀន {slug}"),
            "title_en": spec.pop("title_en", slug),
        }
        if kind == "lesson":
            html = spec.pop("html", False)
            body = spec.pop("body", None) or f"# {slug}\n\nការអានជាមួយគ្នាជួយសិស្សឱ្យយល់ពាក្យថ្មី។\n"
            name = f"lessons/{slug}.{'html' if html else 'md'}"
            front = tomli_w.dumps({"slug": slug, **title, **spec})
            _write(folder / name, f"+++\n{front}+++\n{body}")
            entry: dict[str, Any] = {"file": name}
        elif kind == "quiz":
            name = f"quizzes/{slug}.toml"
            _write(folder / name, tomli_w.dumps({"slug": slug, **title, **spec}))
            entry = {"file": name}
        elif kind in ("task", "observation"):
            name = f"{'tasks' if kind == 'task' else 'forms'}/{slug}.toml"
            form = {"type": kind, "slug": slug, **title, "instructions_km": "សូមធ្វើការងារនេះ។"}
            form["rubric"] = spec.pop("rubric", RUBRIC)
            if kind == "task":
                form["accept"] = spec.pop("accept", ["document", "image"])
            _write(folder / name, tomli_w.dumps({**form, **spec}))
            entry = {"file": name}
        elif kind == "video":
            name = f"media/{slug}.mp4"
            _write(folder / name, spec.pop("data", None) or video_bytes())
            _write(folder / f"media/{slug}.km.vtt", VTT_KM)
            entry = {"file": name, "slug": slug, **title, **spec}
            entry["captions"] = [{"lang": "km", "label": "ខ្មែរ", "file": f"media/{slug}.km.vtt"}]
        else:
            if kind == "html5":
                name = f"apps/{slug}"
                pages = spec.pop("files", None) or {"index.html": "<h1>សួស្តី</h1>"}
                for page, text in pages.items():
                    _write(folder / name / page, text)
            else:
                ending = {"image": "png", "pdf": "pdf", "audio": "ogg"}[kind]
                default = {"image": PNG_1PX, "pdf": PDF_MIN, "audio": b"OggS" + b"\0" * 60}[kind]
                name = f"media/{slug}.{ending}"
                _write(folder / name, spec.pop("data", None) or default)
            entry = {"file": name, "slug": slug, "type": kind, **title, **spec}
        modules.setdefault(module, []).append(entry)
    spec_toml = {
        "id": pack_id,
        "version": version,
        "title_km": "កញ្ចប់សាកល្បង",
        "title_en": "Test pack",
        "description_km": "សម្រាប់តេស្ត",
        "language": "km",
        "license": "CC-BY-4.0",
        "authors": ["Kru tests"],
        "courses": [
            {
                "slug": "course",
                "title_km": "វគ្គសិក្សាសាកល្បង",
                "title_en": "Test course",
                "open": open_course,
                "modules": [
                    {"slug": m, "title_km": f"ជំពូក {m}", "title_en": m, "items": entries}
                    for m, entries in modules.items()
                ],
            }
        ],
    }
    _write(folder / "pack.toml", tomli_w.dumps(spec_toml))
    for name, data in (extra_files or {}).items():
        _write(folder / name, data)
    return folder


def build_pack(
    tmp_path: Path,
    pack_id: str = "demo-pack",
    version: str = "1.0.0",
    items: list[dict[str, Any]] | None = None,
    **options: Any,
) -> Path:
    """Build a small pack with the real build code and return the zip's path.

    ``items`` are made by ``lesson()``, ``quiz()``, ``video()`` and ``media(kind)``;
    by default one lesson and one quiz. ``open_course`` (default True) and
    ``extra_files`` ({path: content}) are passed to ``write_source``.
    """
    n = next(_seq)
    src = write_source(
        tmp_path / f"src-{pack_id}-{version}-{n}", pack_id, version, items, **options
    )
    out = tmp_path / f"{pack_id}-{version}-{n}.zip"
    _build(src, out)
    return out


def install(app: Any, zip_path: Path, **kwargs: Any) -> InstallResult:
    """Install ``zip_path`` into the test app's data home (``force``, ``installed_by``)."""
    return install_pack(zip_path, app.config["KRU"], app.config["KRU_HOME"], **kwargs)
