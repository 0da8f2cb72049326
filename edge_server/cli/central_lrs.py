"""``kru central lrs ...``: the queue of statements forwarded to the learning record store."""

from __future__ import annotations

import json

import click

from edge_server.cli.context import CliContext, pass_ctx


def _open(ctx: CliContext):
    from edge_server.cli.central import _open as open_central

    return open_central(ctx)


@click.group()
def lrs() -> None:
    """Forward xAPI statements to a learning record store (central.lrs_url), each once."""


@lrs.command("status")
@pass_ctx
def lrs_status(ctx: CliContext) -> None:
    """Print the forwarding queue as JSON: waiting, sent, rejected, last error."""
    from sync.central import lrs_forward

    real = _open(ctx)
    try:
        body = lrs_forward.status()
    finally:
        real.close()
    body["lrs_url"] = ctx.settings["central.lrs_url"] or None
    click.echo(json.dumps(body, indent=2))


@lrs.command("run")
@pass_ctx
def lrs_run(ctx: CliContext) -> None:
    """Deliver every waiting statement now; exit 1 when the LRS could not take them all."""
    from sync.central import lrs_forward

    config = lrs_forward.LrsConfig.from_settings(ctx.settings)
    real = _open(ctx)
    try:
        report = lrs_forward.run_pass(config)
    finally:
        real.close()
    click.echo(json.dumps(report.json()))
    if report.error:
        raise click.ClickException(report.error)


@lrs.command("retry")
@pass_ctx
def lrs_retry(ctx: CliContext) -> None:
    """Queue again the statements the LRS refused (after fixing the cause)."""
    from sync.central import lrs_forward

    real = _open(ctx)
    try:
        count = lrs_forward.retry_rejected()
    finally:
        real.close()
    click.echo(f"Queued {count} statements again.")
