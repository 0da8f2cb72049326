"""Certificates a site issued (issue 16): the signed record behind each verification code.

A summary of the ``certified`` and ``revoked`` events in the log, rebuildable from it
(``kru cpd certificates issue``); the events are what syncs.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE certificates (
                id INTEGER PRIMARY KEY,
                event_id TEXT NOT NULL UNIQUE,
                code TEXT NOT NULL UNIQUE,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                course TEXT NOT NULL,
                record TEXT NOT NULL,
                signature TEXT NOT NULL,
                issued_at TEXT NOT NULL,
                revoked_at TEXT,
                revoked_reason TEXT NOT NULL DEFAULT '',
                revoked_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
                UNIQUE (user_id, course)
            )""",
        ],
    )
