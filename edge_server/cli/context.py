"""What every ``kru`` command shares: settings from --config/--data-dir, the data home, the db."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..base.datahome import DataHome
from ..base.settings import Settings, load_settings


@dataclass
class CliContext:
    config_file: str | None = None
    data_dir: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file, overrides={"data_dir": self.data_dir})
        return self._settings

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return settings with command-line overrides (None means not given)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.settings.replace(**given) if given else self.settings

    @property
    def home(self) -> DataHome:
        return DataHome(Path(self.settings.data_dir)).ensure()

    def open_site_db(self):  # a peewee SqliteDatabase
        """Open the site database, applying pending migrations first (as the server does)."""
        from ..site.database import open_site

        return open_site(self.settings)[1]

    def read_site_db(self):  # a peewee SqliteDatabase
        """Open the site database for a command that only reads: never migrate it.

        Raises:
            PendingMigrations: the schema is behind; the message names ``kru migrate``.
        """
        from ..site.database import open_site

        return open_site(self.settings, migrate=False)[1]


pass_ctx = click.make_pass_decorator(CliContext)
