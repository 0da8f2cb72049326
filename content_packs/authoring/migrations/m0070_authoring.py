"""Course drafts written in the browser editor, their media and who published what.

A draft is one course (modules, items) that publishes as a pack; ``revision`` grows with
every change so a second editor's stale save is refused instead of overwriting.
Numbered 0070+ so the authoring tables never collide with other features' migrations.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE authoring_drafts (
                id TEXT PRIMARY KEY,
                pack_id TEXT NOT NULL,
                course_slug TEXT NOT NULL,
                base_version TEXT NOT NULL,
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL DEFAULT '',
                description_km TEXT NOT NULL DEFAULT '',
                description_en TEXT NOT NULL DEFAULT '',
                pack_meta TEXT NOT NULL DEFAULT '{}',
                revision INTEGER NOT NULL DEFAULT 1,
                created_by TEXT,
                created_at TEXT NOT NULL,
                updated_by TEXT,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX authoring_drafts_pack ON authoring_drafts (pack_id)",
            """CREATE TABLE authoring_modules (
                id TEXT PRIMARY KEY,
                draft_id TEXT NOT NULL REFERENCES authoring_drafts (id) ON DELETE CASCADE,
                slug TEXT NOT NULL,
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL DEFAULT '',
                position INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX authoring_modules_draft ON authoring_modules (draft_id, position)",
            """CREATE TABLE authoring_items (
                id TEXT PRIMARY KEY,
                draft_id TEXT NOT NULL REFERENCES authoring_drafts (id) ON DELETE CASCADE,
                module_id TEXT NOT NULL REFERENCES authoring_modules (id) ON DELETE CASCADE,
                slug TEXT NOT NULL,
                type TEXT NOT NULL,
                title_km TEXT NOT NULL,
                title_en TEXT NOT NULL DEFAULT '',
                position INTEGER NOT NULL DEFAULT 0,
                body_md TEXT NOT NULL DEFAULT '',
                data TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX authoring_items_module ON authoring_items (module_id, position)",
            "CREATE UNIQUE INDEX authoring_items_slug ON authoring_items (draft_id, slug)",
            """CREATE TABLE authoring_media (
                id INTEGER PRIMARY KEY,
                draft_id TEXT NOT NULL REFERENCES authoring_drafts (id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size INTEGER NOT NULL,
                UNIQUE (draft_id, path)
            )""",
            "CREATE INDEX authoring_media_sha ON authoring_media (sha256)",
            """CREATE TABLE authoring_publications (
                id INTEGER PRIMARY KEY,
                pack_id TEXT NOT NULL,
                version TEXT NOT NULL,
                draft_id TEXT,
                published_by TEXT,
                published_at TEXT NOT NULL,
                manifest_sha256 TEXT NOT NULL,
                signer_key TEXT NOT NULL,
                changes TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX authoring_publications_pack ON authoring_publications (pack_id)",
        ],
    )
