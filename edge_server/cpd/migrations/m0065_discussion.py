"""Discussion boards per course and cohort: posts, reports and what each reader has seen.

Posts stay on the site; one ``posted`` event per post (without its text, unless the pack
marks the course's discussion for review) is what syncs (issue 16 items 3-4).
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE discussion_posts (
                id INTEGER PRIMARY KEY,
                uid TEXT NOT NULL UNIQUE,
                cohort_id INTEGER NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
                course TEXT NOT NULL,
                thread_id INTEGER REFERENCES discussion_posts (id) ON DELETE CASCADE,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                title TEXT NOT NULL DEFAULT '',
                source TEXT NOT NULL,
                body TEXT NOT NULL,
                image TEXT,
                pinned INTEGER NOT NULL DEFAULT 0,
                locked INTEGER NOT NULL DEFAULT 0,
                hidden INTEGER NOT NULL DEFAULT 0,
                hidden_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
                event_id TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX discussion_posts_board ON discussion_posts "
            "(cohort_id, course, thread_id)",
            "CREATE INDEX discussion_posts_thread ON discussion_posts (thread_id, id)",
            "CREATE INDEX discussion_posts_user ON discussion_posts (user_id)",
            """CREATE TABLE discussion_reports (
                post_id INTEGER NOT NULL REFERENCES discussion_posts (id) ON DELETE CASCADE,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                reason TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                PRIMARY KEY (post_id, user_id)
            )""",
            """CREATE TABLE discussion_seen (
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                thread_id INTEGER NOT NULL REFERENCES discussion_posts (id) ON DELETE CASCADE,
                last_post_id INTEGER NOT NULL,
                PRIMARY KEY (user_id, thread_id)
            )""",
        ],
    )
