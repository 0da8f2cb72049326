"""Accounts, cohorts, and who learns or teaches in which cohort."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                uid TEXT NOT NULL UNIQUE,
                username TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('learner', 'instructor', 'admin')),
                password_hash TEXT NOT NULL,
                language TEXT,
                active INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE cohorts (
                id INTEGER PRIMARY KEY,
                uid TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL UNIQUE,
                description TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE cohort_members (
                id INTEGER PRIMARY KEY,
                cohort_id INTEGER NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                UNIQUE (cohort_id, user_id)
            )""",
            "CREATE INDEX cohort_members_user ON cohort_members (user_id)",
            """CREATE TABLE cohort_instructors (
                id INTEGER PRIMARY KEY,
                cohort_id INTEGER NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                UNIQUE (cohort_id, user_id)
            )""",
            "CREATE INDEX cohort_instructors_user ON cohort_instructors (user_id)",
        ],
    )
