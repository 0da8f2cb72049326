"""Models of the fleet's pack library: pack versions, their files, assignments, site reports."""

from __future__ import annotations

from peewee import AutoField, BigIntegerField, CharField, ForeignKeyField, IntegerField, TextField

from .models import CentralModel, Device

# Assignment scopes.
ALL = "all"
PROVINCE = "province"
SITE = "site"
SCOPES = (ALL, PROVINCE, SITE)

# What a site reports for a pack.
INSTALLED = "installed"
PENDING = "pending"
FAILED = "failed"
STATES = (INSTALLED, PENDING, FAILED)


class LibraryPack(CentralModel):
    id = AutoField()
    pack_id = CharField()
    version = CharField()
    title_km = TextField(default="")
    title_en = TextField(default="")
    manifest_sha256 = CharField()
    signature_sha256 = CharField()
    signer_key = TextField(default="")
    size = BigIntegerField()
    files = IntegerField()
    added_at = CharField()

    class Meta:
        table_name = "library_packs"


class LibraryFile(CentralModel):
    library_pack = ForeignKeyField(LibraryPack, column_name="library_pack_id", backref="file_rows")
    path = TextField()
    sha256 = CharField()
    size = BigIntegerField()

    class Meta:
        table_name = "library_files"
        primary_key = False


class PackAssignment(CentralModel):
    id = AutoField()
    pack_id = CharField()
    scope = CharField()
    target = TextField(default="")
    created_at = CharField()

    class Meta:
        table_name = "pack_assignments"


class SitePack(CentralModel):
    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="site_packs")
    pack_id = CharField()
    version = CharField(default="")
    state = CharField()
    reason = TextField(default="")
    reported_at = CharField()

    class Meta:
        table_name = "site_packs"


class LibraryRelease(CentralModel):
    """A signed Kru bundle in the library (issue 20); the file is kept by sha256."""

    id = AutoField()
    version = CharField()
    arch = CharField()
    sha256 = CharField()
    size = BigIntegerField()
    signature = TextField()  # the signature record (sync.release_record), JSON
    signer_key = TextField()
    added_at = CharField()

    class Meta:
        table_name = "library_releases"


class ReleaseAssignment(CentralModel):
    id = AutoField()
    version = CharField()
    scope = CharField()
    target = TextField(default="")
    created_at = CharField()

    class Meta:
        table_name = "release_assignments"


class SiteRelease(CentralModel):
    """What a site last reported: the version it runs and its last upgrade's outcome."""

    id = AutoField()
    device = ForeignKeyField(Device, column_name="device_id", backref="site_release")
    running = CharField(default="")
    version = CharField(default="")
    state = CharField()
    code = CharField(default="")  # sync.release_record.UPGRADE_REASONS, or ""
    reason = TextField(default="")
    reported_at = CharField()

    class Meta:
        table_name = "site_releases"
