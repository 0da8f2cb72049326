"""Knowing the fleet (issue 19 items 5-6, issue 20 item 6).

``devices`` gains what the site reports at each sync (its Kru version and status: power,
disk, clock, as JSON, with when and how it came) and the machine behind the identity: the
fingerprint of the first machine that synced with it, and another machine's fingerprint seen
with the same identity (an identity clash: a cloned SD card, a backup restored onto a second
Pi), held until an admin marks the old machine replaced. ``rebase_ack`` is then set: the new
machine's sequence numbers went their own way after the copy, so its next batch sets the
acknowledged sequence afresh instead of being told to skip what the old one sent.

``device_clock_epochs`` keeps what a site says of its clock epochs (protocol 2): per epoch,
the wall clock minus the time since boot. Two epochs of one boot differ by the difference of
their bases, so an offset learned online for one epoch gives the others of that boot.
"""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(
        db,
        [
            "ALTER TABLE devices ADD COLUMN kru_version VARCHAR(40)",
            "ALTER TABLE devices ADD COLUMN status TEXT",
            "ALTER TABLE devices ADD COLUMN status_at VARCHAR(40)",
            "ALTER TABLE devices ADD COLUMN status_via VARCHAR(8)",
            "ALTER TABLE devices ADD COLUMN machine VARCHAR(64)",
            "ALTER TABLE devices ADD COLUMN clash_machine VARCHAR(64)",
            "ALTER TABLE devices ADD COLUMN clash_at VARCHAR(40)",
            "ALTER TABLE devices ADD COLUMN replaced_machine VARCHAR(64)",
            "ALTER TABLE devices ADD COLUMN replaced_at VARCHAR(40)",
            "ALTER TABLE devices ADD COLUMN rebase_ack BOOLEAN NOT NULL DEFAULT FALSE",
            """CREATE TABLE device_clock_epochs (
                device_id BIGINT NOT NULL REFERENCES devices (id),
                epoch VARCHAR(200) NOT NULL,
                boot VARCHAR(200) NOT NULL,
                base_ms BIGINT NOT NULL,
                PRIMARY KEY (device_id, epoch)
            )""",
        ],
    )
