"""Central accounts, device registry, batches, site accounts and cohorts, catalog, events.

``central_events`` is unique on (device, event id): each event is stored at most once however
often a batch arrives (issue 5). Types are chosen to mean the same on SQLite and PostgreSQL.
"""

from peewee import Database, PostgresqlDatabase

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if isinstance(db, PostgresqlDatabase) else "INTEGER PRIMARY KEY"
    execute_all(
        db,
        [
            f"""CREATE TABLE central_users (
                id {pk},
                username VARCHAR(64) NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                role VARCHAR(16) NOT NULL CHECK (role IN ('admin', 'viewer')),
                active BOOLEAN NOT NULL DEFAULT TRUE,
                created_at VARCHAR(40) NOT NULL
            )""",
            f"""CREATE TABLE devices (
                id {pk},
                device_id VARCHAR(100) NOT NULL UNIQUE,
                name TEXT NOT NULL,
                province TEXT NOT NULL DEFAULT '',
                site_kind VARCHAR(16) NOT NULL DEFAULT '',
                secret VARCHAR(128) NOT NULL,
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at VARCHAR(40) NOT NULL,
                last_seen_at VARCHAR(40),
                events_received BIGINT NOT NULL DEFAULT 0,
                acked_seq BIGINT NOT NULL DEFAULT 0,
                backlog BIGINT,
                clock_offset_s DOUBLE PRECISION,
                protocol INTEGER,
                modem TEXT
            )""",
            f"""CREATE TABLE sync_batches (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                batch_id VARCHAR(100) NOT NULL,
                after_seq BIGINT NOT NULL,
                last_seq BIGINT NOT NULL,
                events INTEGER NOT NULL,
                stored INTEGER NOT NULL,
                body_bytes INTEGER NOT NULL,
                pi_clock_ms BIGINT NOT NULL,
                received_ms BIGINT NOT NULL,
                clock_offset_s DOUBLE PRECISION NOT NULL,
                UNIQUE (device_id, batch_id)
            )""",
            f"""CREATE TABLE people (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                uid VARCHAR(64) NOT NULL,
                username TEXT NOT NULL,
                display_name TEXT NOT NULL,
                role VARCHAR(16) NOT NULL,
                UNIQUE (device_id, uid)
            )""",
            f"""CREATE TABLE site_cohorts (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                uid VARCHAR(64) NOT NULL,
                name TEXT NOT NULL,
                UNIQUE (device_id, uid)
            )""",
            f"""CREATE TABLE site_cohort_members (
                id {pk},
                cohort_id BIGINT NOT NULL REFERENCES site_cohorts (id),
                person_uid VARCHAR(64) NOT NULL,
                UNIQUE (cohort_id, person_uid)
            )""",
            """CREATE TABLE catalog_items (
                key VARCHAR(300) PRIMARY KEY,
                type VARCHAR(16) NOT NULL DEFAULT '',
                title_km TEXT NOT NULL DEFAULT '',
                title_en TEXT NOT NULL DEFAULT '',
                course_key VARCHAR(300) NOT NULL DEFAULT '',
                course_title_km TEXT NOT NULL DEFAULT '',
                course_title_en TEXT NOT NULL DEFAULT '',
                course_items INTEGER NOT NULL DEFAULT 0
            )""",
            f"""CREATE TABLE central_events (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                event_id VARCHAR(100) NOT NULL,
                seq BIGINT NOT NULL,
                user_uid VARCHAR(64) NOT NULL,
                verb VARCHAR(200) NOT NULL,
                object VARCHAR(300) NOT NULL,
                result TEXT,
                context TEXT,
                client_ts VARCHAR(200),
                server_ms BIGINT NOT NULL,
                corrected_ms BIGINT NOT NULL,
                boot_id VARCHAR(200) NOT NULL,
                received_ms BIGINT NOT NULL,
                UNIQUE (device_id, event_id)
            )""",
            "CREATE INDEX central_events_object ON central_events (object, verb)",
            "CREATE INDEX central_events_device_seq ON central_events (device_id, seq)",
        ],
    )
