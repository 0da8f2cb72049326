"""Entry point of the ``kru`` command; library errors become one line on stderr and exit 1."""

from __future__ import annotations

import logging
import sys

import click

from ..base.errors import KruError
from . import (
    admin,
    backup,
    central,
    cpd,
    modem,
    packs,
    progress,
    release,
    serve,
    setup,
    snapshot,
    submissions,
    sync,
    users,
)
from .context import CliContext


class KruGroup(click.Group):
    """A click group that reports Kru's typed errors as ``Error: message`` and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KruError as exc:
            raise click.ClickException(exc.message) from exc


@click.group(cls=KruGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    envvar="KRU_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML settings file (default: $KRU_CONFIG).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Data directory (default: $KRU_DATA_DIR, else the setting data_dir).",
)
@click.version_option(package_name="kru", prog_name="kru")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, data_dir: str | None) -> None:
    """Kru: offline-first learning server for teacher-training sites."""
    ctx.obj = CliContext(config_file=config_file, data_dir=data_dir)


COMMANDS = (
    serve.serve,
    serve.demo,
    admin.migrate,
    admin.doctor,
    admin.config,
    users.user,
    users.cohort,
    progress.progress,
    cpd.cpd,
    submissions.submissions,
    sync.sync,
    central.central,
    packs.pack,
    release.release,
    modem.modem,
    setup.setup,
    backup.backup,
    backup.restore,
    snapshot.snapshot,
)
for _command in COMMANDS:
    cli.add_command(_command)


def get_cli() -> click.Group:
    """Return the ``kru`` group with every command registered."""
    return cli


def main(argv: list[str] | None = None) -> None:
    """Run the ``kru`` command line."""
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    get_cli().main(args=argv, prog_name="kru")
