"""The catalog of installed content packs: packs, courses, modules, items, and their files.

Item, course and module keys are ``<pack id>/<slug>`` and stay the same across pack
versions, so progress and events (which refer to keys, not row ids) survive upgrades and
removal.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE packs (
                id INTEGER PRIMARY KEY,
                pack_id TEXT NOT NULL UNIQUE,
                version TEXT NOT NULL,
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL,
                description_km TEXT NOT NULL DEFAULT '',
                description_en TEXT NOT NULL DEFAULT '',
                language TEXT NOT NULL DEFAULT 'km',
                license TEXT NOT NULL DEFAULT '',
                authors TEXT NOT NULL DEFAULT '[]',
                signed INTEGER NOT NULL DEFAULT 0,
                signer_key TEXT,
                manifest_sha256 TEXT NOT NULL,
                manifest TEXT NOT NULL,
                size_bytes INTEGER NOT NULL DEFAULT 0,
                installed_at TEXT NOT NULL,
                installed_by TEXT
            )""",
            """CREATE TABLE courses (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                pack_id INTEGER NOT NULL REFERENCES packs (id) ON DELETE CASCADE,
                slug TEXT NOT NULL,
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL,
                description_km TEXT NOT NULL DEFAULT '',
                description_en TEXT NOT NULL DEFAULT '',
                position INTEGER NOT NULL DEFAULT 0,
                open INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX courses_pack ON courses (pack_id)",
            """CREATE TABLE modules (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                course_id INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
                slug TEXT NOT NULL,
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL,
                position INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX modules_course ON modules (course_id, position)",
            """CREATE TABLE items (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                module_id INTEGER NOT NULL REFERENCES modules (id) ON DELETE CASCADE,
                course_id INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
                slug TEXT NOT NULL,
                type TEXT NOT NULL CHECK (
                    type IN ('lesson', 'video', 'audio', 'pdf', 'image', 'quiz', 'html5')
                ),
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL,
                position INTEGER NOT NULL DEFAULT 0,
                duration_s INTEGER,
                required INTEGER NOT NULL DEFAULT 1,
                body TEXT NOT NULL DEFAULT '',
                data TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX items_module ON items (module_id, position)",
            "CREATE INDEX items_course ON items (course_id)",
            """CREATE TABLE pack_files (
                id INTEGER PRIMARY KEY,
                pack_id INTEGER NOT NULL REFERENCES packs (id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size INTEGER NOT NULL,
                UNIQUE (pack_id, path)
            )""",
            "CREATE INDEX pack_files_sha ON pack_files (sha256)",
        ],
    )
