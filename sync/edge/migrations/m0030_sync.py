"""Sync agent state: the durable cursor, bytes sent per day, quarantined batches.

The state is one row updated in place and bytes are one row per day, so failed or
interrupted syncs never grow the database (issue 5).
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE sync_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                cursor INTEGER NOT NULL DEFAULT 0,
                server_acked INTEGER NOT NULL DEFAULT 0,
                last_success_at TEXT,
                last_attempt_at TEXT,
                last_error TEXT,
                last_error_code TEXT,
                failures INTEGER NOT NULL DEFAULT 0,
                server_backlog INTEGER,
                clock_offset_s REAL
            )""",
            "INSERT INTO sync_state (id, cursor) VALUES (1, 0)",
            """CREATE TABLE sync_bytes (
                day TEXT PRIMARY KEY,
                bytes_sent INTEGER NOT NULL DEFAULT 0,
                bytes_received INTEGER NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE sync_quarantine (
                id INTEGER PRIMARY KEY,
                batch_id TEXT NOT NULL,
                after_seq INTEGER NOT NULL,
                last_seq INTEGER NOT NULL,
                events INTEGER NOT NULL,
                code TEXT NOT NULL,
                message TEXT NOT NULL,
                file TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
        ],
    )
