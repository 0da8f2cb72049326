"""What a SCORM activity keeps for a learner between visits (issue 18): location,
suspend_data, statuses, score and total time, one row per learner and item, so a learner
resumes where they left. The results themselves are events, like every other result."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE scorm_state (
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                item TEXT NOT NULL,
                version TEXT NOT NULL,
                data TEXT NOT NULL,
                updated TEXT NOT NULL,
                PRIMARY KEY (user_id, item)
            )""",
        ],
    )
