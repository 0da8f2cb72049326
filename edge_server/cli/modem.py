"""``kru modem status``, ``kru modem heartbeat``, ``kru modem sms-log``."""

from __future__ import annotations

import json
from typing import Any

import click

from edge_server.cli.context import CliContext, pass_ctx


def sync_status(ctx: CliContext, db: Any) -> dict[str, Any]:
    """Return the sync agent's status (pending events, last success) for the heartbeat."""
    from sync.edge.status import status_from_db

    return dict(status_from_db(ctx.settings, ctx.home, db))


def _bars(bars: int) -> str:
    return "#" * bars + "." * (5 - bars)


def format_status(status: dict[str, Any]) -> str:
    """Return the modem status as lines for people."""

    def known(value: Any) -> str:
        return "unknown" if value is None or value == "" else str(value)

    lines = [f"State:       {status['state']} - {status['message']}"]
    if status["detail"]:
        lines.append(f"Detail:      {status['detail']}")
    lines.append(f"Port:        {known(status['port'])}")
    if status["state"] in {"disabled", "no_modem", "port_busy", "no_answer", "not_a_modem"}:
        return "\n".join(lines)
    signal = (
        f"{status['signal_dbm']} dBm" if status["signal_dbm"] is not None else "unknown"
    ) + f"  [{_bars(status['bars'])}] {status['bars']}/5"
    attached = {True: "attached", False: "not attached", None: "unknown"}[status["attached"]]
    lines += [
        f"Model:       {known(status['model'])}",
        f"SIM:         {known(status['sim'])}",
        f"Signal:      {signal}",
        f"Network:     {known(status['registration'])}",
        f"Operator:    {known(status['operator'])} ({known(status['technology'])})",
        f"Packet data: {attached}",
    ]
    return "\n".join(lines)


@click.group()
def modem() -> None:
    """Cellular modem (USB 3G/4G dongle or HAT): status and SMS heartbeat."""


@modem.command("status")
@click.option("--port", help="Serial port to ask instead of the setting modem.port ('auto' scans).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
def status_command(ctx: CliContext, port: str | None, as_json: bool) -> None:
    """Show signal, registration, operator and packet data of the modem."""
    from sync.modem.status import modem_status

    status = modem_status(ctx.settings, port=port)
    if as_json:
        click.echo(json.dumps(status, indent=2, ensure_ascii=False))
    else:
        click.echo(format_status(status))


@modem.command("heartbeat")
@click.option(
    "--force",
    is_flag=True,
    help="Send a test SMS now, whatever the schedule and the daily maximum.",
)
@pass_ctx
def heartbeat_command(ctx: CliContext, force: bool) -> None:
    """Send the SMS heartbeat if it is due (as the sync daemon does), or now with --force."""
    from sync.modem import heartbeat

    status = sync_status(ctx, ctx.open_site_db())
    if force:
        ref = heartbeat.send_heartbeat(ctx.settings, status, kind="test")
        text = heartbeat.compose(ctx.settings, status)
        click.echo(f"Sent a test heartbeat (reference {ref}): {text}")
        return
    reason = heartbeat.heartbeat_due(ctx.settings, status)
    if reason is not None:
        click.echo(f"No heartbeat due: {reason}.")
        return
    ref = heartbeat.send_heartbeat(ctx.settings, status)
    click.echo(f"Sent a heartbeat (reference {ref}).")


@modem.command("sms-log")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many SMS to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@pass_ctx
def sms_log_command(ctx: CliContext, limit: int, as_json: bool) -> None:
    """List the latest heartbeat and test SMS, sent or failed, newest first."""
    from sync.modem import heartbeat

    ctx.open_site_db()
    records = heartbeat.history(ctx.settings, limit)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in records], indent=2))
        return
    if not records:
        click.echo("No SMS sent yet.")
    for r in records:
        outcome = r.outcome if not r.detail else f"{r.outcome}: {r.detail}"
        click.echo(f"{r.created_at}  {r.kind:<9}  {r.number}  {outcome}")
