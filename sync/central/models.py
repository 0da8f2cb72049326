"""Central server models (tables made by ``sync/central/migrations``)."""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from edge_server.base.db import utcnow

from .db import database

CENTRAL_ROLES = ("admin", "viewer")


class CentralModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class CentralUser(CentralModel):
    id = AutoField()
    username = CharField(unique=True)
    password_hash = TextField()
    role = CharField()
    active = BooleanField(default=True)
    created_at = CharField(default=utcnow)

    class Meta:
        table_name = "central_users"

    # Flask-Login's user protocol and what the shared templates/i18n expect.
    is_authenticated = True
    is_anonymous = False
    language = None

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def display_name(self) -> str:
        return self.username

    def get_id(self) -> str:
        return str(self.id)


class CentralSession(CentralModel):
    """One signed-in browser of a central account (as ``edge_server.accounts.models.UserSession``
    is on a site)."""

    id = CharField(primary_key=True)
    user = ForeignKeyField(CentralUser, backref="sessions", on_delete="CASCADE")
    created_at = FloatField()
    expires_at = FloatField()

    class Meta:
        table_name = "central_sessions"


class Device(CentralModel):
    id = AutoField()
    device_id = CharField(unique=True)
    name = TextField()
    province = TextField(default="")
    site_kind = CharField(default="")
    secret = CharField()
    enabled = BooleanField(default=True)
    created_at = CharField(default=utcnow)
    last_seen_at = CharField(null=True)
    events_received = BigIntegerField(default=0)
    acked_seq = BigIntegerField(default=0)
    backlog = BigIntegerField(null=True)
    clock_offset_s = FloatField(null=True)
    protocol = IntegerField(null=True)
    modem = TextField(null=True)
    last_clock_ms = BigIntegerField(null=True)  # highest Pi clock of a fresh request
    decisions = BooleanField(default=False)  # the site sends its decisions (Kru with issue 12)
    signing_key = TextField(null=True)  # the site's Ed25519 public key (issue 16)
    offered_signing_key = TextField(null=True)  # a different key, held until an admin accepts
    # What the site reports at each sync (protocol 2): its Kru version and status (JSON).
    kru_version = CharField(null=True)
    status = TextField(null=True)
    status_at = CharField(null=True)
    status_via = CharField(null=True)  # online, or usb
    # The machine behind the identity (fingerprints) and another one seen with it (a clash).
    machine = CharField(null=True)
    clash_machine = CharField(null=True)
    clash_at = CharField(null=True)
    replaced_machine = CharField(null=True)
    replaced_at = CharField(null=True)
    rebase_ack = BooleanField(default=False)  # the next batch sets acked_seq afresh
    # The device's current stream of event numbers: a replacement (or a batch whose numbers
    # clash with other events) starts the next; (device, generation, seq) is unique.
    generation = IntegerField(default=0)

    class Meta:
        table_name = "devices"


class SyncBatch(CentralModel):
    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="batches")
    batch_id = CharField()
    after_seq = BigIntegerField()
    last_seq = BigIntegerField()
    events = IntegerField()
    stored = IntegerField()
    body_bytes = IntegerField()
    pi_clock_ms = BigIntegerField()
    received_ms = BigIntegerField()
    clock_offset_s = FloatField()
    via = CharField(default="online")  # online, or usb (kru central import)

    class Meta:
        table_name = "sync_batches"


class DeviceBootClock(CentralModel):
    """The clock offset of one boot of a site's Pi, learned from its online contacts."""

    device = ForeignKeyField(Device, column_name="device_id")
    boot_id = CharField()
    clock_offset_s = FloatField()
    learned_ms = BigIntegerField()

    class Meta:
        table_name = "device_boot_clocks"
        primary_key = CompositeKey("device", "boot_id")


class DeviceClockEpoch(CentralModel):
    """A clock epoch of a site's Pi and its base: wall clock minus time since boot (ms)."""

    device = ForeignKeyField(Device, column_name="device_id")
    epoch = CharField()
    boot = CharField()
    base_ms = BigIntegerField()

    class Meta:
        table_name = "device_clock_epochs"
        primary_key = CompositeKey("device", "epoch")


class Person(CentralModel):
    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="people")
    uid = CharField()
    username = TextField()
    display_name = TextField()
    role = CharField()
    national_id = CharField(default="")  # the site's national teacher id (issue 21); "" none

    class Meta:
        table_name = "people"


class LearnerLink(CentralModel):
    """Two records of one learner linked (or kept apart) by a ministry admin (issue 21)."""

    id = AutoField()
    device_a = IntegerField()
    uid_a = CharField()
    device_b = IntegerField()
    uid_b = CharField()
    linked = BooleanField()
    by_user = CharField()
    at_ms = BigIntegerField()

    class Meta:
        table_name = "learner_links"


class SiteCohort(CentralModel):
    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="cohorts")
    uid = CharField()
    name = TextField()

    class Meta:
        table_name = "site_cohorts"


class SiteCohortMember(CentralModel):
    id = AutoField()
    cohort = ForeignKeyField(SiteCohort, column_name="cohort_id", backref="members")
    person_uid = CharField()

    class Meta:
        table_name = "site_cohort_members"


class DeviceItem(CentralModel):
    """An item as one site describes it; another site's batch never changes it."""

    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="items")
    key = CharField()
    type = CharField(default="")
    title_km = TextField(default="")
    title_en = TextField(default="")
    course_key = CharField(default="")
    course_title_km = TextField(default="")
    course_title_en = TextField(default="")
    course_items = IntegerField(default=0)
    counts = BooleanField(default=True)  # counts towards its course's completion

    class Meta:
        table_name = "device_items"


class CentralDecision(CentralModel):
    """A status a site decided for a learner on an item (completed, passed, failed)."""

    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="decisions_made")
    user_uid = CharField()
    item = CharField()
    decision = CharField()
    event_id = CharField()
    score = FloatField(null=True)
    decided_ms = BigIntegerField()

    class Meta:
        table_name = "central_decisions"


class CentralEvent(CentralModel):
    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="events")
    event_id = CharField()
    seq = BigIntegerField()
    user_uid = CharField()
    verb = CharField()
    object = CharField()
    result = TextField(null=True)
    context = TextField(null=True)
    client_ts = CharField(null=True)
    server_ms = BigIntegerField()
    corrected_ms = BigIntegerField()
    boot_id = CharField()
    received_ms = BigIntegerField()
    clock_unknown = BooleanField(default=False)  # came by USB before its boot was heard online
    generation = IntegerField(default=0)  # the device's stream it came in (Device.generation)

    class Meta:
        table_name = "central_events"


class CentralCertificate(CentralModel):
    """A certificate a site issued, as received (issue 16); checked against the site's key."""

    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="certificates")
    code = CharField(unique=True)
    event_id = CharField()
    user_uid = CharField()
    name = TextField()
    hours = FloatField()
    issued = CharField()
    record = TextField()
    signature = TextField()
    revoked_at = CharField(null=True)
    revoked_reason = TextField(default="")

    class Meta:
        table_name = "central_certificates"
