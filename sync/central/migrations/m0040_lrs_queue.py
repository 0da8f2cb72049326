"""Statements waiting for, or delivered to, the external learning record store (issue 21)."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE lrs_queue (
                statement_id VARCHAR(64) PRIMARY KEY,
                event_pk BIGINT NOT NULL,
                state VARCHAR(16) NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                queued_ms BIGINT NOT NULL,
                sent_ms BIGINT
            )""",
            "CREATE INDEX lrs_queue_state ON lrs_queue (state, event_pk)",
            "CREATE INDEX lrs_queue_event ON lrs_queue (event_pk)",
        ],
    )
