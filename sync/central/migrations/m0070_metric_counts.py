"""Counters /metrics cannot read from other tables: rejected batches and ingest latency.

Kept in the database, not in process memory, so every central process behind the load
balancer adds to the same numbers and any of them answers a scrape with the fleet's total
(issue 21). One row per (metric, label); a process adds to it with one upsert.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE central_metric_counts (
                metric VARCHAR(64) NOT NULL,
                label VARCHAR(100) NOT NULL,
                value DOUBLE PRECISION NOT NULL DEFAULT 0,
                PRIMARY KEY (metric, label)
            )""",
        ],
    )
