"""Models of the certificates central obtains for sites, and of the files it offers them."""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .models import CentralModel, Device

# States of a site's certificate job.
NONE = "none"  # no request from the site yet
PENDING = "pending"  # a request waits for the issuing job
ISSUING = "issuing"  # claimed by a job (until claimed_until)
ISSUED = "issued"
FAILED = "failed"  # the last attempt failed; retried at next_attempt_at


class SiteCertificate(CentralModel):
    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", unique=True, backref="certificate")
    label = CharField(default="")
    name = CharField(default="")
    csr_pem = TextField(null=True)
    csr_sha256 = CharField(null=True)
    csr_received_at = CharField(null=True)
    state = CharField(default=NONE)
    claimed_until = FloatField(null=True)
    chain_sha256 = CharField(null=True)
    not_before = CharField(null=True)
    not_after = CharField(null=True)
    issued_at = CharField(null=True)
    attempts = IntegerField(default=0)
    next_attempt_at = FloatField(null=True)
    last_error = TextField(null=True)
    force_renewal = BooleanField(default=False)

    class Meta:
        table_name = "site_certificates"


class AssignedFile(CentralModel):
    sha256 = CharField(primary_key=True)
    kind = CharField()
    size = BigIntegerField()
    body = BlobField()
    created_at = CharField()

    class Meta:
        table_name = "assigned_files"
