"""Courses assigned to cohorts, with an optional due date shown to learners.

Keyed by course key so an assignment survives a pack upgrade.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE course_assignments (
                id INTEGER PRIMARY KEY,
                cohort_id INTEGER NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
                course TEXT NOT NULL,
                due_date TEXT,
                assigned_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
                assigned_at TEXT NOT NULL,
                UNIQUE (cohort_id, course)
            )""",
            "CREATE INDEX course_assignments_course ON course_assignments (course)",
        ],
    )
