"""``kru cpd ...``: certificates and CPD hours of blended courses (issue 16)."""

from __future__ import annotations

import click

from .context import CliContext, pass_ctx


@click.group()
def cpd() -> None:
    """Blended courses and continuous professional development."""


@cpd.group()
def certificates() -> None:
    """Certificates the site issues when a course's completion rule is met."""


@certificates.command("issue")
@click.option("--check", is_flag=True, help="Only report what would change; exit 1 if anything.")
@pass_ctx
def issue(ctx: CliContext, check: bool) -> None:
    """Restore certificates from the event log and issue every certificate now due.

    Safe to run at any time (after installing a pack that adds a certificate, or restoring a
    backup): a learner never gets a second certificate for a course.
    """
    from ..cpd import certificates as certs

    db = ctx.open_site_db()
    try:
        certs.configure(ctx.settings)
        counts = certs.rebuild_and_issue(check_only=check)
    finally:
        db.close()
    if check:
        if counts["restored"] or counts["issued"]:
            raise click.ClickException(
                f"{counts['restored']} to restore from the log, {counts['issued']} to issue; "
                "run: kru cpd certificates issue"
            )
        click.echo("every certificate due is issued")
        return
    click.echo(f"restored {counts['restored']} and issued {counts['issued']} certificates")


@cpd.group()
def competencies() -> None:
    """Competency levels the site decides from the evidence (docs/progress-rules.md)."""


@competencies.command("decide")
@pass_ctx
def decide(ctx: CliContext) -> None:
    """Decide every learner's competency levels again and log the ones that changed.

    Event ingest does this as evidence arrives; run it after installing a pack whose items
    name competencies already studied, or whose framework replaces a sample one. Safe to run
    at any time: a level that did not change writes nothing.
    """
    from ..competencies import profiles

    db = ctx.open_site_db()
    try:
        counts = profiles.decide_all()
    finally:
        db.close()
    click.echo(f"{counts['learners']} learners, {counts['events']} levels changed")
