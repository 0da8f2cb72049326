"""``kru backup DEST`` and ``kru restore SRC``: a site to a USB stick and back."""

from __future__ import annotations

from pathlib import Path

import click

from .context import CliContext, pass_ctx


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--no-content",
    is_flag=True,
    help="Leave out the content store (packs can be installed again); the manifest stays.",
)
@pass_ctx
def backup(ctx: CliContext, dest: Path, no_content: bool) -> None:
    """Back up the site (database, content, device secrets) into a new folder in DEST.

    Safe while the server runs. The folder holds the device's secrets: keep the stick safe.
    """
    from ..site.backup import backup_site

    made = backup_site(ctx.home, dest, include_content=not no_content)
    click.echo(str(made))


@click.command()
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a site that already has data.")
@pass_ctx
def restore(ctx: CliContext, src: Path, force: bool) -> None:
    """Restore the site from backup folder SRC (stop the server first).

    Refuses a backup made by a newer Kru, a damaged backup, and replacing a site that already
    has a database unless --force (the old database is kept in the data directory's backups/).
    """
    from ..site.backup import check_schema, restore_site

    manifest = restore_site(ctx.home, src, force=force)
    click.echo(f"restored the backup of {manifest.get('created_at', '?')} into {ctx.home.root}")
    waiting = check_schema(manifest)
    if waiting:
        click.echo(f"{len(waiting)} migration(s) will be applied when Kru starts")
    if not manifest.get("content_included"):
        click.echo("the backup had no content store: install the content packs again")
