"""``kru central ...``: run the ministry's central server and manage devices and accounts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edge_server.cli.context import CliContext, pass_ctx

from . import central_cert, central_library, central_lrs, central_release


def _open(ctx: CliContext):  # the central peewee database, migrated
    from sync.central.db import open_central

    return open_central(ctx.settings)


@click.group()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Central data directory (SQLite database, secrets, logs); same as kru --data-dir.",
)
@pass_ctx
def central(ctx: CliContext, data_dir: str | None) -> None:
    """The ministry's central server: SQLite by default, PostgreSQL via KRU_CENTRAL_DATABASE_URL."""
    if data_dir:
        ctx.data_dir = data_dir
        ctx._settings = None


@central.command("serve")
@click.option("--host", help="Address to listen on (setting central.host).")
@click.option("--port", type=int, help="TCP port (setting central.port).")
@click.option("--threads", type=int, help="Worker threads (setting threads).")
@pass_ctx
def serve(ctx: CliContext, host: str | None, port: int | None, threads: int | None) -> None:
    """Serve the central server on waitress (applies pending migrations first)."""
    from edge_server.base import logs
    from edge_server.base.server import serve_wsgi
    from edge_server.web import bodylimit
    from sync.central.app import create_app

    settings = ctx.with_overrides(central__host=host, central__port=port, threads=threads)
    home = ctx.home
    logs.configure(
        settings["log_level"], home.logs, filename="central.log", fmt=settings["central.log_format"]
    )
    app = create_app(settings=settings)

    def ready(url: str) -> None:
        click.echo(f"Kru central server is serving on {url}")
        sys.stdout.flush()

    serve_wsgi(
        app,
        host=settings["central.host"],
        port=settings["central.port"],
        threads=settings["threads"],
        connection_limit=settings["connection_limit"],
        body_cap=bodylimit.server_cap(app),
        pid_file=home.root / f"central-{settings['central.port']}.pid",  # one per process
        on_ready=ready,
    )


@central.command("migrate")
@pass_ctx
def migrate_cmd(ctx: CliContext) -> None:
    """Apply pending migrations to the central database."""
    from edge_server.base import migrate
    from sync.central.db import MIGRATIONS, connect_database

    real = connect_database(ctx.settings)
    try:
        done = migrate.migrate(real, MIGRATIONS)
    finally:
        real.close()
    click.echo(f"Applied {len(done)} migration(s)." if done else "The database is current.")


@central.group()
def device() -> None:
    """Register, list, disable and enable site devices."""


@device.command("add")
@click.option("--name", required=True, help="Site name, e.g. 'TEC Battambang'.")
@click.option("--province", default="", help="Province of the site.")
@click.option("--url", help="URL sites reach this server at (setting central.public_url).")
@click.option("--device-id", help="Device id to use (default: a new random one).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the provisioning file here (mode 0600); default: print it.",
)
@pass_ctx
def device_add(
    ctx: CliContext,
    name: str,
    province: str,
    url: str | None,
    device_id: str | None,
    output: Path | None,
) -> None:
    """Register a site; print its device id and write its provisioning file (TOML)."""
    from edge_server.base.datahome import write_private_file
    from sync.central import registry

    real = _open(ctx)
    try:
        if output is not None and output.exists():
            raise click.ClickException(f"{output} exists; choose another file")
        made = registry.add_device(
            name, url or ctx.settings["central.public_url"], province, device_id
        )
    finally:
        real.close()
    click.echo(made.device.device_id)
    if output is None:
        click.echo(made.provisioning)
    else:
        write_private_file(output, made.provisioning)
        click.echo(
            f"Provisioning file written to {output}; on the site run: kru sync provision FILE"
        )


@device.command("list")
@pass_ctx
def device_list(ctx: CliContext) -> None:
    """List registered devices with last contact and events received."""
    from sync.central import registry

    real = _open(ctx)
    try:
        for d in registry.list_devices():
            state = "enabled" if d.enabled else "DISABLED"
            click.echo(
                f"{d.device_id}\t{d.name}\t{d.province or '-'}\t{state}\t"
                f"last seen {d.last_seen_at or 'never'}\t{d.events_received} events"
            )
            if d.clash_machine:
                click.echo(
                    f"  {d.device_id} IDENTITY CLASH since {d.clash_at}: machine "
                    f"{d.clash_machine} syncs with the identity of machine {d.machine} and is "
                    f"refused; if it replaces the old Pi: kru central device replace {d.device_id}"
                )
            if d.offered_signing_key:
                click.echo(
                    f"  {d.device_id} offers a NEW signing key {d.offered_signing_key} "
                    f"(registered: {d.signing_key}); check with the site, then: "
                    f"kru central device accept-key {d.device_id}"
                )
    finally:
        real.close()


def _set_enabled(ctx: CliContext, device_id: str, enabled: bool) -> None:
    from sync.central import registry

    real = _open(ctx)
    try:
        registry.set_enabled(device_id, enabled)
    finally:
        real.close()
    click.echo(f"Device {device_id} {'enabled' if enabled else 'disabled'}.")


@device.command("disable")
@click.argument("device_id")
@pass_ctx
def device_disable(ctx: CliContext, device_id: str) -> None:
    """Disable a device: its sync requests get 403 until enabled again."""
    _set_enabled(ctx, device_id, False)


@device.command("enable")
@click.argument("device_id")
@pass_ctx
def device_enable(ctx: CliContext, device_id: str) -> None:
    """Enable a disabled device again."""
    _set_enabled(ctx, device_id, True)


@device.command("accept-key")
@click.argument("device_id")
@pass_ctx
def device_accept_key(ctx: CliContext, device_id: str) -> None:
    """Accept the new signing key a device offers (after checking with the site)."""
    from sync.central import certificates

    real = _open(ctx)
    try:
        key = certificates.accept_key(device_id)
    finally:
        real.close()
    click.echo(f"Device {device_id} now signs certificates with key {key}.")


@device.command("replace")
@click.argument("device_id")
@pass_ctx
def device_replace(ctx: CliContext, device_id: str) -> None:
    """Mark the machine that held DEVICE_ID replaced: the machine refused in the identity clash
    (a backup restored onto a new Pi) takes the identity over, and the old one is refused."""
    from sync.central import fleet_health

    real = _open(ctx)
    try:
        found = fleet_health.replace_machine(device_id)
    finally:
        real.close()
    click.echo(
        f"Device {device_id} now belongs to machine {found.machine}; "
        f"machine {found.replaced_machine or '-'} is refused from now on."
    )


@central.group()
def user() -> None:
    """Manage the central server's own accounts (admin, viewer)."""


@user.command("add")
@click.option("--username", required=True, help="Sign-in name.")
@click.option("--password", help="Password (else read from stdin or prompted).")
@click.option(
    "--role",
    type=click.Choice(["admin", "viewer"]),
    default="viewer",
    show_default=True,
    help="admin: everything incl. the devices and xAPI API; viewer: dashboard only.",
)
@pass_ctx
def user_add(ctx: CliContext, username: str, password: str | None, role: str) -> None:
    """Create a central account."""
    from sync.central import registry

    if password is None:
        password = (
            sys.stdin.readline().rstrip("\n")
            if not sys.stdin.isatty()
            else click.prompt("Password", hide_input=True, confirmation_prompt=True)
        )
    real = _open(ctx)
    try:
        made = registry.add_user(username, password, role)
    finally:
        real.close()
    click.echo(f"Created {made.role} {made.username}.")


def _read_password(password: str | None) -> str:
    if password is not None:
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("New password", hide_input=True, confirmation_prompt=True)


@user.command("password")
@click.argument("username")
@click.option("--password", help="New password (else read from stdin or prompted).")
@pass_ctx
def user_password(ctx: CliContext, username: str, password: str | None) -> None:
    """Set a central account's password; every browser signed in as it is signed out."""
    from sync.central import registry

    new = _read_password(password)
    real = _open(ctx)
    try:
        changed = registry.set_password(username, new)
    finally:
        real.close()
    click.echo(f"Password changed for {changed.username}; its sessions were ended.")


@user.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "viewer"]), help="New role.")
@click.option("--active/--inactive", default=None, help="Reactivate or deactivate the account.")
@pass_ctx
def user_set(ctx: CliContext, username: str, role: str | None, active: bool | None) -> None:
    """Change a central account's role or whether it may sign in (either signs it out)."""
    from sync.central import registry

    real = _open(ctx)
    try:
        changed = registry.update_user(username, role=role, active=active)
    finally:
        real.close()
    state = "active" if changed.active else "inactive"
    click.echo(f"Updated {changed.username}: {changed.role}, {state}.")


@user.command("unlock")
@click.argument("username")
@pass_ctx
def user_unlock(ctx: CliContext, username: str) -> None:
    """Lift the sign-in lock that wrong passwords put on a central account."""
    from edge_server.web.ratelimit import LoginLimiter
    from sync.central import registry

    real = _open(ctx)
    try:
        found = registry.get_user(username)
        LoginLimiter.from_settings(real, ctx.settings).unlock(found.username)
    finally:
        real.close()
    click.echo(f"Unlocked {found.username}.")


@central.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def import_usb(ctx: CliContext, directory: Path) -> None:
    """Ingest site batches from DIRECTORY (a USB drive) and write acknowledgements back to it."""
    import json

    from sync.central.usb_import import import_dir

    real = _open(ctx)
    try:
        report = import_dir(real, directory)
    finally:
        real.close()
    click.echo(json.dumps(report.as_dict(), indent=2))
    if report.refused:
        raise click.ClickException(
            f"{len(report.refused)} batch files refused: "
            + "; ".join(f"{r['file']}: {r['message']}" for r in report.refused)
        )


central.add_command(central_cert.cert)
central.add_command(central_lrs.lrs)
central.add_command(central_library.pack)
central.add_command(central_release.release)
central.add_command(central_release.stick)
