"""Draft tables of the browser editor (made by migration m0070_authoring)."""

from __future__ import annotations

import json
from typing import Any

from peewee import CharField, ForeignKeyField, IntegerField, TextField

from edge_server.base.db import BaseModel


class Draft(BaseModel):
    id = CharField(primary_key=True)  # type: ignore[assignment]  # a uuid hex, one URL segment
    pack_id = CharField()
    course_slug = CharField()
    base_version = CharField()
    title_km = TextField()
    title_en = TextField(default="")
    description_km = TextField(default="")
    description_en = TextField(default="")
    pack_meta = TextField(default="{}")  # license, authors, language, pack title if other
    revision = IntegerField(default=1)
    created_by = TextField(null=True)
    created_at = TextField()
    updated_by = TextField(null=True)
    updated_at = TextField()

    class Meta:
        table_name = "authoring_drafts"

    @property
    def meta(self) -> dict[str, Any]:
        return json.loads(self.pack_meta or "{}")


class DraftModule(BaseModel):
    id = CharField(primary_key=True)  # type: ignore[assignment]  # a uuid hex, one URL segment
    draft = ForeignKeyField(Draft, on_delete="CASCADE", column_name="draft_id")
    slug = CharField()
    title_km = TextField()
    title_en = TextField(default="")
    position = IntegerField(default=0)

    class Meta:
        table_name = "authoring_modules"


class DraftItem(BaseModel):
    id = CharField(primary_key=True)  # type: ignore[assignment]  # a uuid hex, one URL segment
    draft = ForeignKeyField(Draft, on_delete="CASCADE", column_name="draft_id")
    module = ForeignKeyField(DraftModule, on_delete="CASCADE", column_name="module_id")
    slug = CharField()
    type = CharField()
    title_km = TextField()
    title_en = TextField(default="")
    position = IntegerField(default=0)
    body_md = TextField(default="")
    data = TextField(default="{}")

    class Meta:
        table_name = "authoring_items"

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.data or "{}")


class DraftMedia(BaseModel):
    draft = ForeignKeyField(Draft, on_delete="CASCADE", column_name="draft_id")
    path = TextField()
    sha256 = CharField()
    size = IntegerField()

    class Meta:
        table_name = "authoring_media"


class Publication(BaseModel):
    pack_id = CharField()
    version = CharField()
    draft_id = CharField(null=True)
    published_by = TextField(null=True)
    published_at = TextField()
    manifest_sha256 = CharField()
    signer_key = TextField()
    changes = TextField(default="{}")

    class Meta:
        table_name = "authoring_publications"
