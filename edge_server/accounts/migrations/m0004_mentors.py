"""The ``mentor`` role and which student teachers each mentor may see (issue 15).

A school-based mentor observes student teachers teach; an instructor or admin assigns each
mentor the student teachers they may see. Rebuilding ``users`` to change its role CHECK
would cascade into every table that refers to it, so the check is widened in place
(``allow_value``); no stored row changes meaning.
"""

from peewee import Database

from edge_server.base.migrate import allow_value, execute_all


def apply(db: Database) -> None:
    allow_value(db, "users", "role", "mentor")
    execute_all(
        db,
        [
            """CREATE TABLE mentor_students (
                id INTEGER PRIMARY KEY,
                mentor_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                learner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                assigned_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
                assigned_at TEXT NOT NULL,
                UNIQUE (mentor_id, learner_id)
            )""",
            "CREATE INDEX mentor_students_learner ON mentor_students (learner_id)",
        ],
    )
