"""Models of the learning tables: the event log, progress summaries, graded quiz answers and
course assignments (made by migrations m0020-m0023)."""

from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    CompositeKey,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from ..accounts.models import Cohort, User
from ..base.db import BaseModel

DONE = ("completed", "passed")


class Progress(BaseModel):
    user_id = IntegerField()
    item = TextField()
    status = CharField()
    score = FloatField(null=True)
    completion = FloatField(default=0)
    time_s = IntegerField(default=0)
    position_s = FloatField(null=True)
    attempts = IntegerField(default=0)
    first_ts = TextField()
    last_ts = TextField()
    done_ts = TextField(null=True)

    class Meta:
        table_name = "progress"
        primary_key = CompositeKey("user_id", "item")


class QuizAnswer(BaseModel):
    event_id = TextField()
    user_id = IntegerField()
    item = TextField()
    attempt = IntegerField()
    question = TextField()
    response = TextField()
    correct = BooleanField()

    class Meta:
        table_name = "quiz_answers"


class Assignment(BaseModel):
    cohort = ForeignKeyField(Cohort, column_name="cohort_id", on_delete="CASCADE")
    course = TextField()
    due_date = TextField(null=True)
    assigned_by = ForeignKeyField(User, column_name="assigned_by", null=True)
    assigned_at = TextField()

    class Meta:
        table_name = "course_assignments"


class Event(BaseModel):
    seq = AutoField()
    id = CharField(unique=True)  # type: ignore[assignment]  # the event UUID; seq is the key
    user = ForeignKeyField(User, backref="events", column_name="user_id")
    verb = CharField()
    object = TextField()
    result = TextField(null=True)  # JSON
    context = TextField(null=True)  # JSON
    client_ts = TextField(null=True)
    server_ts = TextField()
    boot_id = CharField()

    class Meta:
        table_name = "events"
