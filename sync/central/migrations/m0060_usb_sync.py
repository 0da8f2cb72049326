"""Sync by USB drive (issue 20 item 4).

``device_boot_clocks`` keeps, per site and boot of its Pi, the clock offset learned from that
site's online contacts; batches carried by USB have their times corrected with it (the time
of an import says nothing of the Pi's clock). ``sync_batches.via`` says how a batch came
(``online`` or ``usb``); ``central_events.clock_unknown`` marks events whose Pi boot central
has not yet heard online (their ``corrected_ms`` is the Pi's own time until it has).
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            """CREATE TABLE device_boot_clocks (
                device_id BIGINT NOT NULL REFERENCES devices (id),
                boot_id VARCHAR(200) NOT NULL,
                clock_offset_s DOUBLE PRECISION NOT NULL,
                learned_ms BIGINT NOT NULL,
                PRIMARY KEY (device_id, boot_id)
            )""",
            "ALTER TABLE sync_batches ADD COLUMN via VARCHAR(8) NOT NULL DEFAULT 'online'",
            "ALTER TABLE central_events ADD COLUMN clock_unknown BOOLEAN NOT NULL DEFAULT FALSE",
        ],
    )
