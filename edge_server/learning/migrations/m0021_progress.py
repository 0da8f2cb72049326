"""Per-learner per-item progress summaries, derived from the event log.

Keyed by (user_id, item key), not item row ids, so progress survives pack upgrades and
removal. ``kru progress rebuild`` recomputes every row from the log.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE progress (
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                item TEXT NOT NULL,
                status TEXT NOT NULL CHECK (
                    status IN ('in_progress', 'completed', 'passed', 'failed')
                ),
                score REAL,
                completion REAL NOT NULL DEFAULT 0,
                time_s INTEGER NOT NULL DEFAULT 0,
                position_s REAL,
                attempts INTEGER NOT NULL DEFAULT 0,
                first_ts TEXT NOT NULL,
                last_ts TEXT NOT NULL,
                done_ts TEXT,
                PRIMARY KEY (user_id, item)
            )""",
            "CREATE INDEX progress_item ON progress (item)",
        ],
    )
