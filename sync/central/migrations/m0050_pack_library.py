"""The fleet's pack library (issue 20): packs central offers sites, where, and what sites have.

``library_packs`` holds each pack version added with ``kru central pack add`` (the zip's
files are kept on disk by sha256 under ``library/``); ``library_files`` lists every file of
every version by sha256, so a site may fetch any file of a pack assigned to it.
``pack_assignments`` says which pack goes to all sites, a province or one device (the newest
version in the library is sent). ``site_packs`` is what each site last reported.
"""

from peewee import Database, PostgresqlDatabase

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if isinstance(db, PostgresqlDatabase) else "INTEGER PRIMARY KEY"
    execute_all(
        db,
        [
            f"""CREATE TABLE library_packs (
                id {pk},
                pack_id VARCHAR(100) NOT NULL,
                version VARCHAR(40) NOT NULL,
                title_km TEXT NOT NULL DEFAULT '',
                title_en TEXT NOT NULL DEFAULT '',
                manifest_sha256 VARCHAR(64) NOT NULL,
                signature_sha256 VARCHAR(64) NOT NULL,
                signer_key TEXT NOT NULL DEFAULT '',
                size BIGINT NOT NULL,
                files INTEGER NOT NULL,
                added_at VARCHAR(40) NOT NULL,
                UNIQUE (pack_id, version)
            )""",
            """CREATE TABLE library_files (
                library_pack_id BIGINT NOT NULL REFERENCES library_packs (id),
                path TEXT NOT NULL,
                sha256 VARCHAR(64) NOT NULL,
                size BIGINT NOT NULL,
                PRIMARY KEY (library_pack_id, path)
            )""",
            "CREATE INDEX library_files_sha ON library_files (sha256)",
            f"""CREATE TABLE pack_assignments (
                id {pk},
                pack_id VARCHAR(100) NOT NULL,
                scope VARCHAR(16) NOT NULL,
                target TEXT NOT NULL DEFAULT '',
                created_at VARCHAR(40) NOT NULL,
                UNIQUE (pack_id, scope, target)
            )""",
            f"""CREATE TABLE site_packs (
                id {pk},
                device_id BIGINT NOT NULL REFERENCES devices (id),
                pack_id VARCHAR(100) NOT NULL,
                version VARCHAR(40) NOT NULL DEFAULT '',
                state VARCHAR(16) NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                reported_at VARCHAR(40) NOT NULL,
                UNIQUE (device_id, pack_id)
            )""",
        ],
    )
