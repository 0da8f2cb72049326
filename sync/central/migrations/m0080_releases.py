"""Kru releases central offers sites (issue 20): signed bundles, assignments, what sites run.

``library_releases`` holds each bundle added with ``kru central release add`` (the file is
kept on disk by sha256 under ``library/`` like pack files, its signature record as text);
``release_assignments`` says which version goes to all sites, a province or one device;
``site_releases`` is what each site last reported (running version, last upgrade's state).
"""

from peewee import Database, PostgresqlDatabase

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if isinstance(db, PostgresqlDatabase) else "INTEGER PRIMARY KEY"
    execute_all(
        db,
        [
            f"""CREATE TABLE library_releases (
                id {pk},
                version VARCHAR(60) NOT NULL,
                arch VARCHAR(20) NOT NULL,
                sha256 VARCHAR(64) NOT NULL,
                size BIGINT NOT NULL,
                signature TEXT NOT NULL,
                signer_key TEXT NOT NULL,
                added_at VARCHAR(40) NOT NULL,
                UNIQUE (version, arch)
            )""",
            f"""CREATE TABLE release_assignments (
                id {pk},
                version VARCHAR(60) NOT NULL,
                scope VARCHAR(16) NOT NULL,
                target TEXT NOT NULL DEFAULT '',
                created_at VARCHAR(40) NOT NULL,
                UNIQUE (version, scope, target)
            )""",
            f"""CREATE TABLE site_releases (
                id {pk},
                device_id BIGINT NOT NULL UNIQUE REFERENCES devices (id),
                running VARCHAR(60) NOT NULL DEFAULT '',
                version VARCHAR(60) NOT NULL DEFAULT '',
                state VARCHAR(16) NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                reported_at VARCHAR(40) NOT NULL
            )""",
        ],
    )
