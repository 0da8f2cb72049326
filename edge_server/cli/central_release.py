"""``kru central release ...`` and ``kru central stick write``: Kru releases for the fleet and
site update sticks (issue 20)."""

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
def release() -> None:
    """Signed Kru releases central sends sites: add, assign, list, per-site status."""


@release.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sig",
    "sig_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signature record (default: FILE.sig beside it).",
)
@pass_ctx
def release_add(ctx: CliContext, file: Path, sig_file: Path | None) -> None:
    """Check a signed bundle (kru-bundle-V-ARCH.tar.gz and its .sig) and add it."""
    from sync.central import releases

    real = _open(ctx)
    try:
        keys_dir = Path(ctx.settings["central.release_keys_dir"])
        row, already = releases.add_release(file, ctx.home, keys_dir, sig_file)
    except KruError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        real.close()
    word = "is already in the library" if already else "added"
    names = releases.signer_names(keys_dir)
    signer = f"{names.get(row.signer_key, '?')} {row.signer_key}"
    click.echo(f"Kru {row.version} ({row.arch}, {row.size} bytes, key {signer}) {word}.")


@release.command("assign")
@click.argument("version")
@scope_options
@pass_ctx
def release_assign(
    ctx: CliContext, version: str, everyone: bool, province: str | None, device_id: str | None
) -> None:
    """Send Kru VERSION to all sites, a province or one site (each gets the newest assigned)."""
    from sync.central import releases

    scope, target = chosen_scope(everyone, province, device_id)
    real = _open(ctx)
    try:
        releases.assign(version, scope, target)
    except KruError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        real.close()
    where = where_words(scope, target)
    click.echo(f"Kru {version} is assigned to {where}; sites fetch it at their next sync.")


@release.command("list")
@pass_ctx
def release_list(ctx: CliContext) -> None:
    """List the releases: version, architecture, size, signing key, where assigned."""
    from sync.central import releases

    real = _open(ctx)
    try:
        for entry in releases.listing():
            r = entry["release"]
            where = assignments_text(entry["assignments"])
            click.echo(f"{r.version}\t{r.arch}\t{r.size} bytes\t{r.signer_key}\t{where}")
    finally:
        real.close()


@release.command("status")
@pass_ctx
def release_status(ctx: CliContext) -> None:
    """Per site: the version assigned, the version it runs, installed / pending / failed."""
    from sync.central import releases

    real = _open(ctx)
    try:
        for row in releases.fleet_status():
            code = f"[{row['code']}] " if row["code"] else ""
            reason = f"\t{code}{row['reason']}" if row["reason"] or code else ""
            click.echo(
                f"{row['device'].device_id}\t{row['assigned'] or '-'}\t"
                f"{row['running'] or '?'}\t{row['state'] or '-'}{reason}"
            )
    finally:
        real.close()


@click.group()
def stick() -> None:
    """Site update sticks: what is assigned to a site or province, for sneakernet."""


@stick.command("write")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site", "device_id", help="The site, by device id.")
@click.option("--province", help="Every site of this province (all-site and province assignments).")
@pass_ctx
def stick_write(
    ctx: CliContext, directory: Path, device_id: str | None, province: str | None
) -> None:
    """Write the packs and the Kru release assigned to a site or province into DIRECTORY."""
    from sync.central.update_stick import FOLDER, write_stick

    real = _open(ctx)
    try:
        index = write_stick(ctx.home, directory, site=device_id, province=province)
    except KruError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        real.close()
    click.echo(
        f"wrote {len(index['packs'])} packs and {len(index['releases'])} releases "
        f"to {directory / FOLDER}"
    )
