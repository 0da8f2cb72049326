"""Server-side sign-in sessions: signing out, a new password, role or deactivation end them."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE user_sessions (
                id TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
            )""",
            "CREATE INDEX user_sessions_user ON user_sessions (user_id)",
            "CREATE INDEX user_sessions_expires ON user_sessions (expires_at)",
        ],
    )
