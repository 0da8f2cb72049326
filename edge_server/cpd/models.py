"""Models of face-to-face sessions and attendance (tables made by migration m0060)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import BooleanField, CompositeKey, ForeignKeyField, IntegerField, TextField

from ..accounts.models import Cohort, User, new_uid
from ..base.db import BaseModel, utcnow


class F2FSession(BaseModel):
    if TYPE_CHECKING:
        cohort_id: int  # peewee's column attribute of the foreign key

    uid = TextField(unique=True, default=new_uid)
    cohort = ForeignKeyField(Cohort, column_name="cohort_id", on_delete="CASCADE")
    course = TextField(default="")
    title = TextField()
    starts_at = TextField()  # UTC, ISO 8601; shown in the site's time zone
    minutes = IntegerField(default=120)
    place = TextField(default="")
    items = TextField(default="[]")  # JSON list of linked item keys
    code = TextField(unique=True)
    checkin_open = BooleanField(default=False)
    created_by = ForeignKeyField(User, column_name="created_by", null=True)
    created_at = TextField(default=utcnow)

    class Meta:
        table_name = "f2f_sessions"


class Attendance(BaseModel):
    session = ForeignKeyField(F2FSession, column_name="session_id", on_delete="CASCADE")
    user = ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    status = TextField()
    marks = IntegerField(default=1)
    event_id = TextField()
    marked_at = TextField()

    class Meta:
        table_name = "f2f_attendance"
        primary_key = CompositeKey("session", "user")


class Certificate(BaseModel):
    if TYPE_CHECKING:
        user_id: int

    event_id = TextField(unique=True)
    code = TextField(unique=True)
    user = ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    course = TextField()
    record = TextField()  # canonical JSON, exactly the bytes the signature covers
    signature = TextField()
    issued_at = TextField()
    revoked_at = TextField(null=True)
    revoked_reason = TextField(default="")
    revoked_by = ForeignKeyField(User, column_name="revoked_by", null=True)

    class Meta:
        table_name = "certificates"
