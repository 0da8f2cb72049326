"""Models of the discussion boards (tables made by migration m0065)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import BooleanField, CompositeKey, ForeignKeyField, IntegerField, TextField

from ..accounts.models import Cohort, User, new_uid
from ..base.db import BaseModel, utcnow


class Post(BaseModel):
    """A thread (``thread`` is None) or a reply to one."""

    if TYPE_CHECKING:
        cohort_id: int
        thread_id: int | None
        user_id: int

    uid = TextField(unique=True, default=new_uid)
    cohort = ForeignKeyField(Cohort, column_name="cohort_id", on_delete="CASCADE")
    course = TextField()
    thread = ForeignKeyField("self", column_name="thread_id", null=True, on_delete="CASCADE")
    user = ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    title = TextField(default="")
    source = TextField()  # what the author typed (Markdown)
    body = TextField()  # sanitised HTML made from it
    image = TextField(null=True)  # sha256 of an attached image, stored under <home>/discussion
    pinned = BooleanField(default=False)
    locked = BooleanField(default=False)
    hidden = BooleanField(default=False)
    hidden_by = ForeignKeyField(User, column_name="hidden_by", null=True)
    event_id = TextField()
    created_at = TextField(default=utcnow)

    class Meta:
        table_name = "discussion_posts"


class Report(BaseModel):
    post = ForeignKeyField(Post, column_name="post_id", on_delete="CASCADE")
    user = ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    reason = TextField(default="")
    created_at = TextField(default=utcnow)

    class Meta:
        table_name = "discussion_reports"
        primary_key = CompositeKey("post", "user")


class Seen(BaseModel):
    user = ForeignKeyField(User, column_name="user_id", on_delete="CASCADE")
    thread = ForeignKeyField(Post, column_name="thread_id", on_delete="CASCADE")
    last_post_id = IntegerField()

    class Meta:
        table_name = "discussion_seen"
        primary_key = CompositeKey("user", "thread")
