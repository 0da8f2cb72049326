"""Tasks (issue 15): the catalog accepts ``task`` items; submissions, their files and reviews.

SQLite cannot change a CHECK constraint, so ``items`` is copied into a new table that
allows ``task`` (nothing references ``items`` by foreign key). ``task_submissions`` is what
the review queue reads; the event log keeps the record that travels to central (a
``submitted`` and a ``reviewed`` event per version). Files live under the data home's
``submissions/`` folder, named by sha256; ``task_files`` lists them per submission.
"""

from peewee import Database

from edge_server.base.migrate import execute_all

ITEM_TYPES = "'lesson', 'video', 'audio', 'pdf', 'image', 'quiz', 'html5', 'task'"


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            f"""CREATE TABLE items_new (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                module_id INTEGER NOT NULL REFERENCES modules (id) ON DELETE CASCADE,
                course_id INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
                slug TEXT NOT NULL,
                type TEXT NOT NULL CHECK (type IN ({ITEM_TYPES})),
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL,
                position INTEGER NOT NULL DEFAULT 0,
                duration_s INTEGER,
                required INTEGER NOT NULL DEFAULT 1,
                body TEXT NOT NULL DEFAULT '',
                data TEXT NOT NULL DEFAULT '{{}}'
            )""",
            "INSERT INTO items_new SELECT id, key, module_id, course_id, slug, type, title_km, "
            "title_en, position, duration_s, required, body, data FROM items",
            "DROP TABLE items",
            "ALTER TABLE items_new RENAME TO items",
            "CREATE INDEX items_module ON items (module_id, position)",
            "CREATE INDEX items_course ON items (course_id)",
            """CREATE TABLE task_submissions (
                id TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                item TEXT NOT NULL,
                version INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('submitted', 'accepted', 'returned')),
                note TEXT NOT NULL DEFAULT '',
                submitted_at TEXT NOT NULL,
                reviewer_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
                reviewed_at TEXT,
                rubric TEXT,
                comment TEXT NOT NULL DEFAULT '',
                points REAL,
                score REAL,
                UNIQUE (user_id, item, version)
            )""",
            "CREATE INDEX task_submissions_queue ON task_submissions (status, submitted_at)",
            "CREATE INDEX task_submissions_item ON task_submissions (item, submitted_at)",
            """CREATE TABLE task_files (
                id INTEGER PRIMARY KEY,
                submission_id TEXT NOT NULL REFERENCES task_submissions (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                mime TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                removed_at TEXT,
                UNIQUE (submission_id, position)
            )""",
            "CREATE INDEX task_files_sha ON task_files (sha256)",
        ],
    )
