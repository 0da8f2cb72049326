"""Account models: users, cohorts, and who learns or teaches in which cohort.

Tables are created by migrations (``edge_server/accounts/migrations``), never by ``create_tables``.
"""

from __future__ import annotations

import uuid

from peewee import (
    BooleanField,
    CharField,
    FloatField,
    ForeignKeyField,
    TextField,
)

from ..base.db import BaseModel, utcnow

ROLES = ("learner", "instructor", "admin", "mentor")


def new_uid() -> str:
    return uuid.uuid4().hex


class User(BaseModel):
    uid = CharField(unique=True, default=new_uid)
    username = CharField(unique=True)
    display_name = TextField()
    role = CharField()
    password_hash = TextField()
    language = CharField(null=True)
    active = BooleanField(default=True)
    created_at = TextField(default=utcnow)
    updated_at = TextField(default=utcnow)

    class Meta:
        table_name = "users"

    # Flask-Login's user protocol, kept here so the model needs no Flask import.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class UserSession(BaseModel):
    """One signed-in browser: the cookie holds a random token, this row its sha256.

    Signing out deletes the row, so a copied cookie is refused from then on, in every server
    process and after a restart (issue 12).
    """

    id = CharField(primary_key=True)  # type: ignore[assignment]  # sha256 hex of the token in the session cookie
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = FloatField()
    expires_at = FloatField()

    class Meta:
        table_name = "user_sessions"


class Cohort(BaseModel):
    uid = CharField(unique=True, default=new_uid)
    name = CharField(unique=True)
    description = TextField(default="")
    created_at = TextField(default=utcnow)

    class Meta:
        table_name = "cohorts"


class CohortMember(BaseModel):
    cohort = ForeignKeyField(Cohort, backref="members", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")

    class Meta:
        table_name = "cohort_members"
        indexes = ((("cohort", "user"), True),)


class CohortInstructor(BaseModel):
    cohort = ForeignKeyField(Cohort, backref="instructors", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="teaching", on_delete="CASCADE")

    class Meta:
        table_name = "cohort_instructors"
        indexes = ((("cohort", "user"), True),)


class MentorStudent(BaseModel):
    """A student teacher a school-based mentor may see and observe (issue 15)."""

    mentor = ForeignKeyField(User, backref="mentees", column_name="mentor_id", on_delete="CASCADE")
    learner = ForeignKeyField(User, column_name="learner_id", on_delete="CASCADE")
    assigned_by = ForeignKeyField(User, column_name="assigned_by", null=True, on_delete="SET NULL")
    assigned_at = TextField(default=utcnow)

    class Meta:
        table_name = "mentor_students"
        indexes = ((("mentor", "learner"), True),)
