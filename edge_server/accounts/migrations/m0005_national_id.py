"""A learner's national teacher id (issue 21): the ministry links one person's accounts on
several sites by it. Empty for none; unique on a site when given."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            "ALTER TABLE users ADD COLUMN national_id TEXT NOT NULL DEFAULT ''",
            "CREATE UNIQUE INDEX users_national_id ON users (national_id) WHERE national_id <> ''",
        ],
    )
