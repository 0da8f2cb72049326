"""Every SMS the modem sent or tried to send (heartbeats, test messages), for the daily limit."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE modem_sms (
                id INTEGER PRIMARY KEY,
                created_at TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('heartbeat', 'test')),
                number TEXT NOT NULL,
                body TEXT NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'failed')),
                detail TEXT NOT NULL DEFAULT '',
                reference INTEGER
            )""",
            "CREATE INDEX modem_sms_created ON modem_sms (created_at)",
        ],
    )
