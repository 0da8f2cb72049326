"""``kru progress ...``: learners' progress summaries."""

from __future__ import annotations

import click

from .context import CliContext, pass_ctx


@click.group()
def progress() -> None:
    """Learners' progress summaries, derived from the event log."""


@progress.command("rebuild")
@click.option("--check", is_flag=True, help="Only report whether the stored summaries match.")
@pass_ctx
def rebuild(ctx: CliContext, check: bool) -> None:
    """Recompute every progress summary and graded quiz answer from the event log.

    Safe to run at any time: the summaries are replaced in one transaction, and the log is
    only added to (the decisions it lacks, which the next sync sends). With --check nothing
    is written and the exit status is 1 when the stored summaries differ from the log or
    the log lacks decisions.
    """
    from ..learning import progress as rules

    db = ctx.open_site_db()
    try:
        if check:
            before = rules.snapshot()
            with db.atomic() as txn:
                counts = rules.rebuild()
                after = rules.snapshot()
                txn.rollback()
            if before != after:
                raise click.ClickException(
                    "the stored summaries differ from the event log; run: kru progress rebuild"
                )
            if counts["decisions"]:
                raise click.ClickException(
                    f"the event log lacks {counts['decisions']} decisions; "
                    "run: kru progress rebuild"
                )
            click.echo(f"summaries match the log ({counts['events']} events)")
            return
        counts = rules.rebuild()
    finally:
        db.close()
    click.echo(
        f"rebuilt {counts['summaries']} summaries and {counts['answers']} quiz answers "
        f"from {counts['events']} events; {counts['decisions']} missing decisions recorded"
    )
