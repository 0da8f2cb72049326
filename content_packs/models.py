"""Catalog models of installed packs (tables made by migration m0010_catalog)."""

from __future__ import annotations

import json
from typing import Any

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from edge_server.base.db import BaseModel


class Pack(BaseModel):
    pack_id = CharField(unique=True)
    version = CharField()
    title_km = TextField()
    title_en = TextField()
    description_km = TextField(default="")
    description_en = TextField(default="")
    language = CharField(default="km")
    license = TextField(default="")
    authors = TextField(default="[]")
    signed = BooleanField(default=False)
    signer_key = TextField(null=True)
    manifest_sha256 = CharField()
    manifest = TextField()
    size_bytes = IntegerField(default=0)
    installed_at = TextField()
    installed_by = TextField(null=True)

    class Meta:
        table_name = "packs"


class Course(BaseModel):
    key = CharField(unique=True)
    pack = ForeignKeyField(Pack, backref="courses", on_delete="CASCADE", column_name="pack_id")
    slug = CharField()
    title_km = TextField()
    title_en = TextField()
    description_km = TextField(default="")
    description_en = TextField(default="")
    position = IntegerField(default=0)
    open = BooleanField(default=False)

    class Meta:
        table_name = "courses"


class Module(BaseModel):
    key = CharField(unique=True)
    course = ForeignKeyField(
        Course, backref="modules", on_delete="CASCADE", column_name="course_id"
    )
    slug = CharField()
    title_km = TextField()
    title_en = TextField()
    position = IntegerField(default=0)

    class Meta:
        table_name = "modules"


class Item(BaseModel):
    key = CharField(unique=True)
    module = ForeignKeyField(Module, backref="items", on_delete="CASCADE", column_name="module_id")
    course = ForeignKeyField(Course, backref="items", on_delete="CASCADE", column_name="course_id")
    slug = CharField()
    type = CharField()
    title_km = TextField()
    title_en = TextField()
    position = IntegerField(default=0)
    duration_s = IntegerField(null=True)
    required = BooleanField(default=True)
    body = TextField(default="")  # sanitised HTML of a lesson
    data = TextField(default="{}")  # type-specific JSON (files, captions, quiz)

    class Meta:
        table_name = "items"

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.data or "{}")


class PackFile(BaseModel):
    pack = ForeignKeyField(Pack, backref="files", on_delete="CASCADE", column_name="pack_id")
    path = TextField()
    sha256 = CharField()
    size = IntegerField()

    class Meta:
        table_name = "pack_files"
        indexes = ((("pack", "path"), True),)


def title(obj: Any, lang: str) -> str:
    """Return the Khmer or English title of a catalog row, falling back to the other."""
    primary = getattr(obj, f"title_{lang}", "") if lang in ("km", "en") else ""
    return primary or obj.title_km or obj.title_en
