"""Sign-in attempts, counted in the database so every server process shares the limit."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            "CREATE TABLE login_attempts (key TEXT NOT NULL, at REAL NOT NULL)",
            "CREATE INDEX login_attempts_key ON login_attempts (key, at)",
            "CREATE INDEX login_attempts_at ON login_attempts (at)",
        ],
    )
