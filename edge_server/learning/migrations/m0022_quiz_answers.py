"""Graded quiz answers, one row per question per attempt, for instructors' statistics.

Derived from the ``attempted`` events (whose context holds the server's grading), so
``kru progress rebuild`` can recompute it from the log.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE quiz_answers (
                id INTEGER PRIMARY KEY,
                event_id TEXT NOT NULL,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                item TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                question TEXT NOT NULL,
                response TEXT NOT NULL,
                correct INTEGER NOT NULL,
                UNIQUE (event_id, question)
            )""",
            "CREATE INDEX quiz_answers_item ON quiz_answers (item, question)",
            "CREATE INDEX quiz_answers_user ON quiz_answers (user_id, item)",
        ],
    )
