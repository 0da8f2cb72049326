"""``kru submissions ...``: the files learners submitted for tasks."""

from __future__ import annotations

import click

from .context import CliContext, pass_ctx


@click.group()
def submissions() -> None:
    """Files learners submitted for tasks: space used, retention."""


@submissions.command("usage")
@pass_ctx
def usage(ctx: CliContext) -> None:
    """Show the space submitted files take, the quota and the retention setting."""
    from ..tasks import storage

    db = ctx.open_site_db()
    try:
        used = storage.usage(ctx.settings)
    finally:
        db.close()
    keep = f"{used.retention_days} days" if used.retention_days else "forever"
    click.echo(
        f"{used.files} files, {used.used_bytes / 1048576:.1f} MB of "
        f"{used.quota_bytes // 1048576} MB; accepted work kept {keep}"
    )


@submissions.command("prune")
@pass_ctx
def prune(ctx: CliContext) -> None:
    """Remove the files of accepted work reviewed more than submissions.retention_days ago.

    Their names, checksums, reviews and events stay; 0 days (the default) keeps every file.
    """
    from ..tasks import storage

    db = ctx.open_site_db()
    try:
        removed = storage.prune(ctx.home, ctx.settings["submissions.retention_days"])
    finally:
        db.close()
    click.echo(f"removed {removed} files")


@submissions.command("rebuild")
@pass_ctx
def rebuild(ctx: CliContext) -> None:
    """Make the submissions tables again from the event log (the record of learning).

    Safe at any time: one transaction; files no longer on the Pi are marked removed.
    """
    from ..tasks import replay

    db = ctx.open_site_db()
    try:
        counts = replay.rebuild(ctx.home)
    finally:
        db.close()
    click.echo(f"rebuilt {counts['submissions']} submissions with {counts['files']} files")
