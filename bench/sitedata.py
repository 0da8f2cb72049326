"""Build the benchmark site: a fresh data home with a class, packs and a term of history.

Everything goes through Kru's own functions (create_user, install_pack, the event ingest),
so the data looks like a real site's: 60 learners in one cohort with an instructor, the
sample pack when it is there, a 50-item course with a large video, 500 generated Khmer
lessons for search, and a term of learning events stored in batches as phones send them.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w

from edge_server import accounts
from edge_server.base import passwords
from edge_server.base.datahome import DataHome
from edge_server.base.settings import Settings, load_settings
from edge_server.site import database as schema

log = logging.getLogger(__name__)

PASSWORD = "bench-pass-2026"  # noqa: S105 - throwaway accounts of a benchmark site
LEARNERS = 60
CLASS_PACK = "bench-class"
SEARCH_PACK = "bench-search"
COURSE_ITEMS = 50
QUIZ_EVERY = 10  # every tenth item of the class course is a quiz
VIDEO_SLUG = "video"

# Everyday words of teacher training, to generate Khmer lessons with realistic clusters
# (subscripts, vowel signs) for the search index; the sentences mean nothing in particular.
KHMER_WORDS = (
    "គ្រូបង្រៀន សិស្ស ថ្នាក់រៀន មេរៀន ការអាន ការសរសេរ គណិតវិទ្យា វិទ្យាសាស្ត្រ ភាសាខ្មែរ "
    "សៀវភៅ ក្ដារខៀន ការវាយតម្លៃ សំណួរ ចម្លើយ ក្រុម ការពិភាក្សា សកម្មភាព ផែនការ បង្រៀន "
    "ការយល់ដឹង ពាក្យថ្មី ប្រយោគ កថាខណ្ឌ រឿងខ្លី ការស្តាប់ ការនិយាយ លំហាត់ កិច្ចការផ្ទះ "
    "ឪពុកម្ដាយ សហគមន៍ សាលារៀន នាយកសាលា កម្មវិធីសិក្សា គោលបំណង លទ្ធផល ការរៀនសូត្រ "
    "ការលើកទឹកចិត្ត ការគ្រប់គ្រងថ្នាក់ ពេលវេលា ការសង្កេត ឧទាហរណ៍ រូបភាព ចំនួន ការបូក "
    "ការដក ការគុណ ការចែក ប្រភាគ រង្វាស់ ធម្មជាតិ បរិស្ថាន សុខភាព អនាម័យ ទឹកស្អាត "
    "ដំណាំ កសិកម្ម ប្រវត្តិសាស្ត្រ ភូមិសាស្ត្រ ខេត្ត ភូមិ ទន្លេ ព្រៃឈើ សិល្បៈ តន្ត្រី "
    "កីឡា ល្បែង ការច្នៃប្រឌិត ការគិតពិចារណា ការសហការ ការទទួលខុសត្រូវ សមភាព យេនឌ័រ "
    "ការរួមបញ្ចូល កុមារ ពិការភាព ភាពជាអ្នកដឹកនាំ ការអភិវឌ្ឍ វិជ្ជាជីវៈ"
).split()


@dataclass
class Site:
    """What the scenarios need to know about the built site."""

    data_dir: Path
    settings: Settings
    learners: list[str]
    instructor: str
    cohort_id: int
    course_key: str
    lesson_keys: list[str]
    quiz_keys: list[str]
    video_sha256: str | None
    video_bytes: int
    search_lessons: int
    events: int
    sample_pack: bool
    timings_s: dict[str, float] = field(default_factory=dict)


def khmer_text(rng: random.Random, words: int) -> str:
    """Return ``words`` Khmer words as sentences ending in ។."""
    out: list[str] = []
    for _ in range(max(words // 8, 1)):
        out.append(" ".join(rng.choice(KHMER_WORDS) for _ in range(8)) + "។")
    return " ".join(out)


def _lesson_file(folder: Path, slug: str, title: str, body: str) -> str:
    name = f"lessons/{slug}.md"
    front = tomli_w.dumps({"slug": slug, "title_km": title, "title_en": slug})
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"+++\n{front}+++\n# {title}\n\n{body}\n", encoding="utf-8")
    return name


def _quiz_file(folder: Path, slug: str) -> str:
    name = f"quizzes/{slug}.toml"
    quiz = {
        "slug": slug,
        "title_km": "សំណួរពិនិត្យ",
        "title_en": slug,
        "pass_mark": 0.5,
        "questions": [
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
            },
            {"id": "q2", "type": "true_false", "prompt_km": "ការអានជួយសិស្ស។", "answer": True},
        ],
    }
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(quiz), encoding="utf-8")
    return name


def write_video(path: Path, size: int) -> None:
    """Write ``size`` bytes that start like a WebM file (the server never decodes media)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    chunk = rng.randbytes(1 << 20)
    with open(path, "wb") as fh:
        fh.write(b"\x1a\x45\xdf\xa3")
        left = size - 4
        while left > 0:
            fh.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def write_class_pack(folder: Path, video_bytes: int, rng: random.Random) -> Path:
    """Write the source of a pack with one open course of ``COURSE_ITEMS`` items."""
    entries: list[dict[str, Any]] = []
    for n in range(1, COURSE_ITEMS + 1):
        if n == 2:
            write_video(folder / f"media/{VIDEO_SLUG}.webm", video_bytes)
            entries.append(
                {
                    "file": f"media/{VIDEO_SLUG}.webm",
                    "slug": VIDEO_SLUG,
                    "title_km": "វីដេអូ ការអានជាមួយគ្នា",
                    "title_en": "Reading together (video)",
                    "duration_s": 600,
                }
            )
        elif n % QUIZ_EVERY == 0:
            entries.append({"file": _quiz_file(folder, f"quiz-{n:02d}")})
        else:
            body = "\n\n".join(khmer_text(rng, 120) for _ in range(4))
            entries.append({"file": _lesson_file(folder, f"lesson-{n:02d}", f"មេរៀនទី {n}", body)})
    modules = [
        {"slug": f"module-{m + 1}", "title_km": f"ជំពូក {m + 1}", "items": entries[m * 10 :][:10]}
        for m in range(COURSE_ITEMS // 10)
    ]
    spec = {
        "id": CLASS_PACK,
        "version": "1.0.0",
        "title_km": "វគ្គបណ្ដុះបណ្ដាលគ្រូ",
        "title_en": "Teacher training (benchmark)",
        "language": "km",
        "license": "CC-BY-4.0",
        "authors": ["Kru bench"],
        "courses": [
            {
                "slug": "class",
                "title_km": "ការបង្រៀនការអាន",
                "title_en": "Teaching reading",
                "open": True,
                "modules": modules,
            }
        ],
    }
    (folder / "pack.toml").write_text(tomli_w.dumps(spec), encoding="utf-8")
    return folder


def write_search_pack(folder: Path, lessons: int, rng: random.Random) -> Path:
    """Write the source of a pack of ``lessons`` generated Khmer lessons (for search)."""
    per_module = 50
    entries = [
        {"file": _lesson_file(folder, f"s-{n:04d}", khmer_text(rng, 6), khmer_text(rng, 400))}
        for n in range(1, lessons + 1)
    ]
    modules = [
        {
            "slug": f"m-{i // per_module + 1}",
            "title_km": f"ផ្នែក {i // per_module + 1}",
            "items": entries[i : i + per_module],
        }
        for i in range(0, len(entries), per_module)
    ]
    spec = {
        "id": SEARCH_PACK,
        "version": "1.0.0",
        "title_km": "បណ្ណាល័យមេរៀន",
        "title_en": "Lesson library (benchmark)",
        "language": "km",
        "license": "CC-BY-4.0",
        "authors": ["Kru bench"],
        "courses": [
            {"slug": "library", "title_km": "មេរៀនទាំងអស់", "open": True, "modules": modules}
        ],
    }
    (folder / "pack.toml").write_text(tomli_w.dumps(spec), encoding="utf-8")
    return folder


def _install(src: Path, settings: Settings, home: DataHome) -> None:
    from content_packs.build import build_pack
    from content_packs.install import install_pack

    out = home.tmp / f"{src.name}.zip"
    build_pack(src, out)
    install_pack(out, settings, home, installed_by="kru bench")
    out.unlink()


def _install_sample_pack(settings: Settings) -> bool:
    try:
        from content_packs import demo
    except ImportError:
        return False
    if not (demo.SAMPLE / "pack.toml").is_file():
        return False
    demo.install_sample_pack(settings)
    return True


def make_history(
    users: list[Any], item_keys: list[str], total: int, rng: random.Random, batch: int = 200
) -> int:
    """Store ``total`` events over a 16-week term through the real ingest, in batches."""
    from edge_server.learning import events

    term_start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    stored = 0
    per_user = max(-(-total // len(users)), 1)
    for user in users:
        made = 0
        while made < per_user and stored < total:
            size = min(batch, per_user - made, total - stored)
            raw = []
            for _ in range(size):
                when = term_start + timedelta(seconds=rng.randrange(16 * 7 * 86400))
                verb = rng.choices(("viewed", "progressed", "completed"), (3, 6, 1))[0]
                raw.append(
                    {
                        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "verb": verb,
                        "object": rng.choice(item_keys),
                        "result": {"duration_s": rng.randrange(5, 300)},
                        "timestamp": when.isoformat(),
                    }
                )
            result = events.ingest_body(user, {"events": raw})
            made += size
            stored += result.accepted
    return stored


def build_site(
    data_dir: Path,
    *,
    events: int = 100_000,
    search_lessons: int = 500,
    video_bytes: int = 50 * 1024 * 1024,
    seed: int = 2026,
) -> Site:
    """Create the benchmark site in ``data_dir`` (which must not exist yet) and return it."""
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    settings = load_settings(environ={}, overrides={"data_dir": str(data_dir)})
    home = DataHome(Path(data_dir)).ensure()
    schema.upgrade(home)
    database = schema.open_database(home)
    database.connect(reuse_if_open=True)
    try:
        passwords.configure(
            settings["auth.hash_memory_kib"],
            settings["auth.hash_time_cost"],
            settings["auth.hash_concurrency"],
        )
        began = time.monotonic()
        cohort = accounts.create_cohort("Bench class 2026", "ថ្នាក់សាកល្បងល្បឿន")
        instructor = accounts.create_user(
            "bench-teacher", PASSWORD, display_name="គ្រូ បង្ហាត់", role="instructor"
        )
        accounts.add_to_cohort(cohort, instructor)
        users = []
        for n in range(1, LEARNERS + 1):
            user = accounts.create_user(
                f"bench-learner-{n:02d}", PASSWORD, display_name=f"សិស្ស {n}", language="km"
            )
            accounts.add_to_cohort(cohort, user)
            users.append(user)
        timings["accounts"] = time.monotonic() - began

        began = time.monotonic()
        sample = _install_sample_pack(settings)
        src = home.tmp / "bench-src"
        _install(write_class_pack(src / CLASS_PACK, video_bytes, rng), settings, home)
        _install(write_search_pack(src / SEARCH_PACK, search_lessons, rng), settings, home)
        timings["packs"] = time.monotonic() - began

        from content_packs.models import Item

        course_key = f"{CLASS_PACK}/class"
        rows = list(
            Item.select(Item.key, Item.type)
            .where(Item.key.startswith(CLASS_PACK + "/"))
            .order_by(Item.id)
        )
        lessons = [r.key for r in rows if r.type == "lesson"]
        quizzes = [r.key for r in rows if r.type == "quiz"]
        video = _video_ref(f"{CLASS_PACK}/{VIDEO_SLUG}")
        _assign(cohort, course_key, instructor)

        began = time.monotonic()
        stored = make_history(users, lessons, events, rng)
        timings["history"] = time.monotonic() - began
        cohort_id = cohort.id
    finally:
        database.close()
    return Site(
        data_dir=Path(data_dir),
        settings=settings,
        learners=[u.username for u in users],
        instructor="bench-teacher",
        cohort_id=cohort_id,
        course_key=course_key,
        lesson_keys=lessons,
        quiz_keys=quizzes,
        video_sha256=video,
        video_bytes=video_bytes,
        search_lessons=search_lessons,
        events=stored,
        sample_pack=sample,
        timings_s={k: round(v, 2) for k, v in timings.items()},
    )


def _video_ref(key: str) -> str | None:
    import json

    from content_packs.models import Item

    row = Item.get_or_none(Item.key == key)
    if row is None:
        return None
    data = row.data if isinstance(row.data, dict) else json.loads(row.data or "{}")
    ref = data.get("file") or {}
    return ref.get("sha256")


def _assign(cohort: Any, course_key: str, instructor: Any) -> None:
    try:
        from edge_server.learning import assignments
    except ImportError:
        return
    assignments.assign(cohort, course_key, None, instructor)
