"""Submissions and their files (tables made by migration m0090_tasks)."""

from __future__ import annotations

import json
from typing import Any

from peewee import CharField, FloatField, ForeignKeyField, IntegerField, TextField

from ..accounts.models import User
from ..base.db import BaseModel

STATUSES = ("submitted", "accepted", "returned")


class Submission(BaseModel):
    id = CharField(primary_key=True)  # type: ignore[assignment]  # the submitted event's UUID
    user = ForeignKeyField(User, backref="submissions", on_delete="CASCADE")
    item = TextField()
    version = IntegerField()
    status = CharField()
    note = TextField(default="")
    submitted_at = TextField()
    reviewer = ForeignKeyField(User, null=True, on_delete="SET NULL", column_name="reviewer_id")
    reviewed_at = TextField(null=True)
    rubric = TextField(null=True)
    comment = TextField(default="")
    points = FloatField(null=True)
    score = FloatField(null=True)
    # What peewee adds at run time, declared for mypy.
    user_id: int
    files: Any

    class Meta:
        table_name = "task_submissions"

    @property
    def rubric_choice(self) -> dict[str, Any]:
        return json.loads(self.rubric or "{}")


class SubmissionFile(BaseModel):
    submission = ForeignKeyField(Submission, backref="files", on_delete="CASCADE")
    position = IntegerField()
    name = TextField()
    kind = CharField()
    mime = CharField()
    size = IntegerField()
    sha256 = CharField()
    removed_at = TextField(null=True)

    class Meta:
        table_name = "task_files"
