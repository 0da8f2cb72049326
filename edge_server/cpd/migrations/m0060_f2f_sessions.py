"""Face-to-face sessions of a cohort and who attended them (issue 16).

The attendance table is a summary of the ``attended`` events in the log (latest mark wins),
rebuildable from it; the events are what syncs.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE f2f_sessions (
                id INTEGER PRIMARY KEY,
                uid TEXT NOT NULL UNIQUE,
                cohort_id INTEGER NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
                course TEXT NOT NULL DEFAULT '',
                title TEXT NOT NULL,
                starts_at TEXT NOT NULL,
                minutes INTEGER NOT NULL DEFAULT 120,
                place TEXT NOT NULL DEFAULT '',
                items TEXT NOT NULL DEFAULT '[]',
                code TEXT NOT NULL UNIQUE,
                checkin_open INTEGER NOT NULL DEFAULT 0,
                created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX f2f_sessions_cohort ON f2f_sessions (cohort_id, starts_at)",
            """CREATE TABLE f2f_attendance (
                session_id INTEGER NOT NULL REFERENCES f2f_sessions (id) ON DELETE CASCADE,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                status TEXT NOT NULL,
                marks INTEGER NOT NULL DEFAULT 1,
                event_id TEXT NOT NULL,
                marked_at TEXT NOT NULL,
                PRIMARY KEY (session_id, user_id)
            )""",
        ],
    )
