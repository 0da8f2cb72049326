"""Server-side sign-in sessions of central accounts, as on the site (issue 12)."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE central_sessions (
                id VARCHAR(64) PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES central_users (id) ON DELETE CASCADE,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX central_sessions_user ON central_sessions (user_id)",
            "CREATE INDEX central_sessions_expires ON central_sessions (expires_at)",
        ],
    )
