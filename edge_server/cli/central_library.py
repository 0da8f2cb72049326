"""``kru central pack ...``: the fleet's pack library (add, assign, list, per-site status)."""

from __future__ import annotations

from pathlib import Path

import click

from edge_server.base.errors import KruError
from edge_server.cli.context import CliContext, pass_ctx
from edge_server.cli.fleet_scope import assignments_text, chosen_scope, scope_options, where_words


def _open(ctx: CliContext):
    from edge_server.cli.central import _open as open_central

    return open_central(ctx)


@click.group()
def pack() -> None:
    """Signed packs central sends sites: the library, assignments, what sites have."""


@pack.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def pack_add(ctx: CliContext, file: Path) -> None:
    """Validate a signed pack (every checksum, a trusted signature) and add it to the library."""
    from sync.central import library

    real = _open(ctx)
    try:
        added = library.add_pack(file, ctx.settings, ctx.home)
    except KruError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        real.close()
    if added.already:
        click.echo(f"{added.pack_id} {added.version} is already in the library.")
    else:
        click.echo(
            f"Added {added.pack_id} {added.version}: {added.files} files "
            f"({added.new_files} new), {added.size} bytes."
        )


@pack.command("assign")
@click.argument("pack_id")
@scope_options
@pass_ctx
def pack_assign(
    ctx: CliContext, pack_id: str, everyone: bool, province: str | None, device_id: str | None
) -> None:
    """Send the newest library version of PACK_ID to all sites, a province or one site."""
    from sync.central import library

    scope, target = chosen_scope(everyone, province, device_id)
    real = _open(ctx)
    try:
        library.assign(pack_id, scope, target)
    except KruError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        real.close()
    where = where_words(scope, target)
    click.echo(f"{pack_id} is assigned to {where}; sites fetch it at their next sync.")


@pack.command("list")
@pass_ctx
def pack_list(ctx: CliContext) -> None:
    """List the library: pack, version, files, size and where each pack is assigned."""
    from sync.central import library

    real = _open(ctx)
    try:
        for entry in library.library_listing():
            p = entry["pack"]
            where = assignments_text(entry["assignments"])
            click.echo(f"{p.pack_id}\t{p.version}\t{p.files} files\t{p.size} bytes\t{where}")
    finally:
        real.close()


@pack.command("status")
@pass_ctx
def pack_status(ctx: CliContext) -> None:
    """Per site: each assigned pack's version and whether it is installed, pending or failed."""
    from sync.central import library

    real = _open(ctx)
    try:
        for row in library.fleet_status():
            for p in row["packs"]:
                reason = f"\t{p['reason']}" if p["reason"] else ""
                click.echo(
                    f"{row['device'].device_id}\t{p['pack_id']}\t{p['version']}\t"
                    f"{p['state']}{reason}"
                )
    finally:
        real.close()
