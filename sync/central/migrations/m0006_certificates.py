"""Certificates sites issued (issue 16) and each site's Ed25519 public key to check them."""

from peewee import Database, PostgresqlDatabase

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if isinstance(db, PostgresqlDatabase) else "INTEGER PRIMARY KEY"
    execute_all(
        db,
        [
            "ALTER TABLE devices ADD COLUMN signing_key TEXT",
            "ALTER TABLE devices ADD COLUMN offered_signing_key TEXT",
            f"""CREATE TABLE central_certificates (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                code VARCHAR(16) NOT NULL UNIQUE,
                event_id VARCHAR(100) NOT NULL,
                user_uid VARCHAR(100) NOT NULL,
                name TEXT NOT NULL,
                hours DOUBLE PRECISION NOT NULL,
                issued VARCHAR(10) NOT NULL,
                record TEXT NOT NULL,
                signature TEXT NOT NULL,
                revoked_at VARCHAR(40),
                revoked_reason TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX central_certificates_person "
            "ON central_certificates (device_id, user_uid)",
        ],
    )
