"""Entry point of the ``kru`` command; library errors become one line on stderr and exit 1."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from ..errors import KruError
from .context import CliContext

# Each part of Kru adds its commands here ("module:attribute").
COMMANDS = [
    "edge_server.cli.serve:serve",
    "edge_server.cli.serve:demo",
    "edge_server.cli.admin:migrate",
    "edge_server.cli.admin:doctor",
    "edge_server.cli.admin:config",
    "edge_server.cli.users:user",
    "edge_server.cli.users:cohort",
    "edge_server.cli.progress:progress",
    "edge_server.cli.cpd:cpd",
    "edge_server.cli.submissions:submissions",
    "sync.cli:sync",
    "sync.central.cli:central",
    "content_packs.cli:pack",
    "sync.modem_cli:modem",
    "edge_server.cli.setup:setup",
    "edge_server.cli.backup:backup",
    "edge_server.cli.backup:restore",
    "edge_server.cli.snapshot:snapshot",
]


class KruGroup(click.Group):
    """A click group that reports Kru's typed errors as ``Error: message`` and exit 1."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
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


def _register() -> None:
    for spec in COMMANDS:
        module, _, attr = spec.partition(":")
        cli.add_command(getattr(importlib.import_module(module), attr))


_registered = False


def get_cli() -> click.Group:
    """Return the ``kru`` group with every command registered."""
    global _registered
    if not _registered:
        _register()
        _registered = True
    return cli


def main(argv: list[str] | None = None) -> None:
    """Run the ``kru`` command line."""
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    get_cli().main(args=argv, prog_name="kru")
