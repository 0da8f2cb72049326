"""The append-only learning event log.

``seq`` is the sync sequence: AUTOINCREMENT so a number is never reused. ``id`` is the UUID
made where the event happened (phone or server), unique so a resend is harmless. ``object``
is an item key (``<pack>/<item>``), not a row id, so events outlive pack removal.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                user_id INTEGER NOT NULL REFERENCES users (id),
                verb TEXT NOT NULL,
                object TEXT NOT NULL,
                result TEXT,
                context TEXT,
                client_ts TEXT,
                server_ts TEXT NOT NULL,
                boot_id TEXT NOT NULL
            )""",
            "CREATE INDEX events_user_object ON events (user_id, object)",
        ],
    )
