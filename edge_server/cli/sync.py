"""``kru sync ...``: push learning data to the central server."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge_server.cli.context import CliContext, pass_ctx


@click.group()
def sync() -> None:
    """Send this site's learning data to the ministry's central server."""


@sync.command("run")
@click.option("--batch-size", type=int, help="Events per batch (setting sync.batch_size).")
@pass_ctx
def run(ctx: CliContext, batch_size: int | None) -> None:
    """Sync until caught up; exit 1 when out of link, out of budget or refused."""
    from sync.edge.agent import sync_once

    settings = ctx.with_overrides(sync__batch_size=batch_size)
    result = sync_once(settings, ctx.home, ctx.open_site_db())
    summary = (
        f"{result.events_sent} events sent in {result.batches} batches "
        f"({result.bytes_sent} bytes), {result.pending} pending"
    )
    if result.quarantined:
        summary += f", {result.quarantined} batches quarantined"
    if not result.caught_up:
        raise click.ClickException(f"Not caught up ({result.code}: {result.message}); {summary}")
    click.echo(f"Caught up: {summary}")


@sync.command("status")
@pass_ctx
def status(ctx: CliContext) -> None:
    """Print the sync status as JSON (pending events, last success, last error, bytes today).

    Only reads: a database with pending migrations is left alone (run kru migrate first).
    """
    from sync.edge.status import status_from_db

    db = ctx.read_site_db()
    try:
        click.echo(json.dumps(status_from_db(ctx.settings, ctx.home, db), indent=2))
    finally:
        db.close()


@sync.command("daemon")
@pass_ctx
def daemon(ctx: CliContext) -> None:
    """Sync every sync.interval_s seconds and when woken by `kru sync now`, until stopped."""
    from edge_server.base import logs
    from sync.edge.daemon import run_daemon

    settings = ctx.settings
    logs.configure(settings["log_level"], ctx.home.logs, filename="sync.log")
    run_daemon(settings, ctx.home, ctx.open_site_db())


@sync.command("now")
@pass_ctx
def now(ctx: CliContext) -> None:
    """Wake the running sync daemon so it syncs at once."""
    from sync.edge.daemon import wake_daemon

    if not wake_daemon(ctx.home):
        raise click.ClickException("The sync daemon is not running (start: kru sync daemon)")
    click.echo("The sync daemon was woken.")


@sync.command("provision")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def provision(ctx: CliContext, file: Path) -> None:
    """Import the device identity from a provisioning file made by `kru central device add`."""
    from sync.edge.identity import provision as do_provision

    identity = do_provision(ctx.home, file)
    click.echo(f"Provisioned as device {identity.device_id} for {identity.central_url}")


@sync.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def export(ctx: CliContext, directory: Path) -> None:
    """Write the events not yet acknowledged to DIRECTORY (a USB drive), signed for central."""
    from sync.edge.identity import load_identity
    from sync.edge.usb_export import export_batches

    db = ctx.open_site_db()
    try:
        result = export_batches(ctx.settings, db, load_identity(ctx.home), directory)
    finally:
        db.close()
    click.echo(
        f"Wrote {result.events} events in {result.batches} batches "
        f"({result.bytes} bytes) to {result.directory}"
    )


@sync.command("import-ack")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def import_ack(ctx: CliContext, directory: Path) -> None:
    """Read the central server's signed acknowledgement from DIRECTORY (a USB drive)."""
    from sync.edge.identity import load_identity
    from sync.edge.usb_export import import_ack as read_ack

    db = ctx.open_site_db()
    try:
        acked, cursor = read_ack(db, load_identity(ctx.home), directory, home=ctx.home)
    finally:
        db.close()
    click.echo(f"Central holds this site's events up to seq {acked}; cursor now {cursor}")
