"""``kru central cert ...``: see, force and run the issuing of site certificates."""

from __future__ import annotations

import json
import signal
import threading

import click

from edge_server.cli.context import CliContext, pass_ctx


def _open(ctx: CliContext):
    from edge_server.cli.central import _open as open_central

    return open_central(ctx)


def _device(device_id: str):
    from sync.central.registry import get_device

    return get_device(device_id)


@click.group()
def cert() -> None:
    """HTTPS certificates for sites: obtained by ACME DNS-01, delivered at sync."""


@cert.command("list")
@pass_ctx
def cert_list(ctx: CliContext) -> None:
    """List every device's certificate: name, state, expiry, last error."""
    from sync.central import site_certs

    real = _open(ctx)
    try:
        for row in site_certs.listing():
            left = "-" if row["days_left"] is None else f"{row['days_left']} days left"
            click.echo(
                f"{row['device_id']}\t{row['name'] or '-'}\t{row['state']}\t"
                f"{row['not_after'] or '-'}\t{left}\t{row['last_error'] or ''}".rstrip()
            )
    finally:
        real.close()


@cert.command("show")
@click.argument("device_id")
@pass_ctx
def cert_show(ctx: CliContext, device_id: str) -> None:
    """Print one device's certificate state as JSON."""
    from sync.central import site_certs

    real = _open(ctx)
    try:
        _device(device_id)
        rows = [r for r in site_certs.listing() if r["device_id"] == device_id]
    finally:
        real.close()
    click.echo(json.dumps(rows[0], indent=2))


@cert.command("label")
@click.argument("device_id")
@click.argument("label")
@pass_ctx
def cert_label(ctx: CliContext, device_id: str, label: str) -> None:
    """Set the DNS label of a device: its site is then LABEL.<central.https_domain>."""
    from sync.central import site_certs

    real = _open(ctx)
    try:
        row = site_certs.set_label(_device(device_id), label)
    finally:
        real.close()
    click.echo(f"Device {device_id} has the label {row.label}; its site sends a new request.")


@cert.command("run")
@click.option("--device", "device_id", help="Only this device.")
@click.option("--force", is_flag=True, help="Obtain a new certificate now even if not due.")
@pass_ctx
def cert_run(ctx: CliContext, device_id: str | None, force: bool) -> None:
    """Issue and renew what is due now, once; exit 1 when one failed."""
    from sync.central import cert_job, site_certs

    if force and not device_id:
        raise click.UsageError("--force needs --device")
    real = _open(ctx)
    try:
        if force:
            site_certs.force(_device(device_id or ""))
        outcomes = cert_job.run_once(ctx.settings, ctx.home, device_id=device_id)
    finally:
        real.close()
    for outcome in outcomes:
        click.echo(
            f"{outcome.device_id}\t{outcome.name}\t{'ok' if outcome.ok else 'FAILED'}\t"
            f"{outcome.message}"
        )
    if not outcomes:
        click.echo("Nothing is due.")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} certificate(s) failed; see above")


@cert.command("daemon")
@pass_ctx
def cert_daemon(ctx: CliContext) -> None:
    """Issue and renew every central.cert_interval_s seconds until stopped."""
    from edge_server.base import logs
    from sync.central import cert_job

    settings = ctx.settings
    logs.configure(settings["log_level"], ctx.home.logs, filename="central-cert.log")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    real = _open(ctx)
    try:
        cert_job.run_daemon(settings, ctx.home, stop)
    finally:
        real.close()
