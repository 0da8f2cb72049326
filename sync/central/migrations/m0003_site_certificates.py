"""HTTPS certificates obtained for sites (issue 23): one row per device.

The site's certificate request, the name central allows it, the issued chain and the state
of the issuing job. Files central offers sites (``assigned_files``) are kept by sha256 so
the "what central has for this site" pull can list and serve them.
"""

from peewee import Database, PostgresqlDatabase

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if isinstance(db, PostgresqlDatabase) else "INTEGER PRIMARY KEY"
    blob = "BYTEA" if isinstance(db, PostgresqlDatabase) else "BLOB"
    execute_all(
        db,
        [
            f"""CREATE TABLE site_certificates (
                id {pk},
                device_id BIGINT NOT NULL UNIQUE REFERENCES devices (id),
                label VARCHAR(63) NOT NULL DEFAULT '',
                name VARCHAR(253) NOT NULL DEFAULT '',
                csr_pem TEXT,
                csr_sha256 VARCHAR(64),
                csr_received_at VARCHAR(40),
                state VARCHAR(16) NOT NULL DEFAULT 'none',
                claimed_until DOUBLE PRECISION,
                chain_sha256 VARCHAR(64),
                not_before VARCHAR(40),
                not_after VARCHAR(40),
                issued_at VARCHAR(40),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at DOUBLE PRECISION,
                last_error TEXT,
                force_renewal BOOLEAN NOT NULL DEFAULT FALSE
            )""",
            f"""CREATE TABLE assigned_files (
                sha256 VARCHAR(64) PRIMARY KEY,
                kind VARCHAR(32) NOT NULL,
                size BIGINT NOT NULL,
                body {blob} NOT NULL,
                created_at VARCHAR(40) NOT NULL
            )""",
        ],
    )
