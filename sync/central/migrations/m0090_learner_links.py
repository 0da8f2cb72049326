"""One learner's records on several sites (issue 21): the national teacher id each site sends
with its accounts, and the links and unlinks a ministry admin made by hand.

A pair is stored once, the lesser (device, uid) first; ``linked`` false records an unlink,
which keeps two records apart even when their national teacher ids match.
"""

from peewee import Database, PostgresqlDatabase

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if isinstance(db, PostgresqlDatabase) else "INTEGER PRIMARY KEY"
    execute_all(
        db,
        [
            "ALTER TABLE people ADD COLUMN national_id VARCHAR(64) NOT NULL DEFAULT ''",
            "CREATE INDEX people_national_id ON people (national_id)",
            f"""CREATE TABLE learner_links (
                id {pk},
                device_a BIGINT NOT NULL REFERENCES devices (id),
                uid_a VARCHAR(64) NOT NULL,
                device_b BIGINT NOT NULL REFERENCES devices (id),
                uid_b VARCHAR(64) NOT NULL,
                linked BOOLEAN NOT NULL,
                by_user VARCHAR(64) NOT NULL,
                at_ms BIGINT NOT NULL,
                UNIQUE (device_a, uid_a, device_b, uid_b)
            )""",
            "CREATE INDEX learner_links_b ON learner_links (device_b, uid_b)",
        ],
    )
