"""``kru snapshot list|take|restore``: the database snapshots kept in the data directory."""

from __future__ import annotations

import click

from .context import CliContext, pass_ctx


@click.group()
def snapshot() -> None:
    """Database snapshots (taken hourly by the server while something changed)."""


@snapshot.command("list")
@pass_ctx
def list_(ctx: CliContext) -> None:
    """List the kept snapshots, newest first: name, size, events held."""
    from ..base import snapshots

    for snap in snapshots.list_snapshots(ctx.home):
        events = snapshots.max_event_seq(snap.path)
        click.echo(f"{snap.name}\t{snap.size / 1e6:.1f} MB\tevents up to #{events}")


@snapshot.command()
@pass_ctx
def take(ctx: CliContext) -> None:
    """Take a snapshot now (safe while the server runs) and prune old ones."""
    from ..base import snapshots

    s = ctx.settings
    made = snapshots.take(ctx.home)
    snapshots.prune(ctx.home, s["snapshots.keep_hourly"], s["snapshots.keep_daily"])
    click.echo(str(made.path))


@snapshot.command()
@click.argument("name")
@pass_ctx
def restore(ctx: CliContext, name: str) -> None:
    """Replace the database with snapshot NAME (or "latest"); stop the server first.

    The current database is kept in the data directory's backups/ first.
    """
    from ..base import snapshots

    snap = snapshots.find(ctx.home, name)
    kept = snapshots.restore(ctx.home, snap)
    click.echo(f"restored {snap.name}; the previous database is in {kept}")
