"""``kru migrate``, ``kru doctor``, ``kru config``."""

from __future__ import annotations

import json

import click

from .context import CliContext, pass_ctx


@click.command()
@click.option("--target", help="Stop after this migration (for testing upgrades).")
@pass_ctx
def migrate(ctx: CliContext, target: str | None) -> None:
    """Apply pending database migrations (backing the database up first)."""
    from ..site import database

    done = database.upgrade(ctx.home, target=target)
    click.echo("\n".join(f"applied {name}" for name in done) or "database is up to date")


@click.command()
@pass_ctx
def doctor(ctx: CliContext) -> None:
    """Check SQLite, search, disk, database integrity and configuration; exit 1 on problems."""
    from ..site.health import doctor as run_doctor

    rows = run_doctor(ctx.settings)
    width = max(len(name) for name, _, _ in rows)
    for name, finding, ok in rows:
        click.echo(f"{'ok ' if ok else 'BAD'} {name:<{width}}  {finding}")
    if not all(ok for _, _, ok in rows):
        raise click.exceptions.Exit(1)


@click.group()
def config() -> None:
    """Show the settings and where each value comes from."""


@config.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def config_list(ctx: CliContext, as_json: bool) -> None:
    """List every setting with its value, source and environment variable."""
    from ..base.settings import SETTINGS

    s = ctx.settings
    rows = [
        {
            "name": setting.name,
            "value": str(s[setting.name]) if setting.type == "path" else s[setting.name],
            "source": s.sources[setting.name],
            "env": setting.env_var,
            "help": setting.help,
        }
        for setting in SETTINGS
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']:<28} {row['value']!s:<24} ({row['source']})")
