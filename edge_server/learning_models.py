"""The event log model (table made by migration m0020_events)."""

from __future__ import annotations

from peewee import AutoField, CharField, ForeignKeyField, TextField

from .models import BaseModel, User


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
