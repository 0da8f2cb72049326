"""Reports per device: each site's own catalog and the decisions its rules made.

``device_items`` holds what each site said about its items (titles, course, required-item
count), so one site's batch can no longer rewrite another's course titles or the count its
completion is divided by (issue 12: site B's batch took site A from 7.1 % to 0.1 %). It is
filled from ``catalog_items`` for the items each device has events on; ``catalog_items`` is
no longer read or written and is kept only so this upgrade loses nothing.

``central_decisions`` holds the statuses sites decided (completed, passed, failed), one row
per device, learner, item and status; reports count these and apply no rules of their own.

``devices.last_clock_ms`` is the highest Pi clock of a fresh request, so a replayed probe no
longer refreshes ``last_seen_at``; ``devices.decisions`` says the site sends its decisions.
"""

from peewee import Database, PostgresqlDatabase

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if isinstance(db, PostgresqlDatabase) else "INTEGER PRIMARY KEY"
    execute_all(
        db,
        [
            f"""CREATE TABLE device_items (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                key VARCHAR(300) NOT NULL,
                type VARCHAR(16) NOT NULL DEFAULT '',
                title_km TEXT NOT NULL DEFAULT '',
                title_en TEXT NOT NULL DEFAULT '',
                course_key VARCHAR(300) NOT NULL DEFAULT '',
                course_title_km TEXT NOT NULL DEFAULT '',
                course_title_en TEXT NOT NULL DEFAULT '',
                course_items INTEGER NOT NULL DEFAULT 0,
                counts BOOLEAN NOT NULL DEFAULT TRUE,
                UNIQUE (device_id, key)
            )""",
            "CREATE INDEX device_items_course ON device_items (device_id, course_key)",
            """INSERT INTO device_items (device_id, key, type, title_km, title_en, course_key,
                course_title_km, course_title_en, course_items)
            SELECT e.device_id, c.key, c.type, c.title_km, c.title_en, c.course_key,
                c.course_title_km, c.course_title_en, c.course_items
            FROM (SELECT DISTINCT device_id, object FROM central_events) e
            JOIN catalog_items c ON c.key = e.object""",
            f"""CREATE TABLE central_decisions (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                user_uid VARCHAR(64) NOT NULL,
                item VARCHAR(300) NOT NULL,
                decision VARCHAR(16) NOT NULL
                    CHECK (decision IN ('completed', 'passed', 'failed')),
                event_id VARCHAR(100) NOT NULL,
                score DOUBLE PRECISION,
                decided_ms BIGINT NOT NULL,
                UNIQUE (device_id, user_uid, item, decision)
            )""",
            "CREATE INDEX central_decisions_item ON central_decisions (device_id, item)",
            "ALTER TABLE devices ADD COLUMN last_clock_ms BIGINT",
            "ALTER TABLE devices ADD COLUMN decisions BOOLEAN NOT NULL DEFAULT FALSE",
        ],
    )
