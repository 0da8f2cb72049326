"""``kru user ...`` and ``kru cohort ...``: accounts and classes from the command line."""

from __future__ import annotations

import sys

import click

from .context import CliContext, pass_ctx


def _read_password(password: str | None) -> str:
    if password is not None:
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def user() -> None:
    """Create, list, change and import accounts."""


@user.command("add")
@click.argument("username")
@click.option("--password", help="Password (else read from stdin or prompted).")
@click.option("--name", "display_name", help="Display name (Khmer welcome).")
@click.option(
    "--role",
    type=click.Choice(["learner", "instructor", "mentor", "admin"]),
    default="learner",
    show_default=True,
)
@click.option("--language", type=click.Choice(["km", "en"]), help="Page language.")
@click.option("--cohort", help="Add to this existing cohort.")
@pass_ctx
def user_add(
    ctx: CliContext,
    username: str,
    password: str | None,
    display_name: str | None,
    role: str,
    language: str | None,
    cohort: str | None,
) -> None:
    """Create an account."""
    from .. import accounts

    db = ctx.open_site_db()
    with db.atomic():
        target = accounts.get_cohort(name=cohort) if cohort else None
        created = accounts.create_user(
            username,
            _read_password(password),
            display_name=display_name,
            role=role,
            language=language,
        )
        if target is not None:
            accounts.add_to_cohort(target, created)
    click.echo(f"created {created.role} {created.username}")


@user.command("list")
@click.option("--role", type=click.Choice(["learner", "instructor", "mentor", "admin"]))
@pass_ctx
def user_list(ctx: CliContext, role: str | None) -> None:
    """List accounts: username, role, active, display name."""
    from .. import accounts

    ctx.open_site_db()
    for u in accounts.list_users(role):
        state = "active" if u.active else "inactive"
        click.echo(f"{u.username}\t{u.role}\t{state}\t{u.display_name}")


@user.command("import")
@click.argument("csv_file", type=click.File("rb"))
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even if some are bad.")
@click.option("--cohort", help="Cohort for rows that name none (created if missing).")
@pass_ctx
def user_import(ctx: CliContext, csv_file, skip_bad_rows: bool, cohort: str | None) -> None:
    """Import a class list (CSV; columns in docs/admin-guide.md).

    Prints each created username with its generated password, if one was generated.
    Any bad row imports nothing unless --skip-bad-rows.
    """
    from ..accounts import roster

    ctx.open_site_db()
    try:
        result = roster.import_roster(
            csv_file.read(), skip_bad_rows=skip_bad_rows, default_cohort=cohort
        )
    except roster.RosterError as exc:
        for problem in exc.problems:
            click.echo(f"line {problem.line}: {problem.message}", err=True)
        raise click.ClickException(exc.message) from exc
    for username, generated in result.created:
        click.echo(f"{username}\t{generated or ''}".rstrip())
    for problem in result.problems:
        click.echo(f"skipped line {problem.line}: {problem.message}", err=True)
    click.echo(f"imported {len(result.created)} account(s)", err=True)


@user.command("export")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File (default: stdout).",
)
@pass_ctx
def user_export(ctx: CliContext, output) -> None:
    """Write every account as a class list (CSV, UTF-8 with BOM; no passwords)."""
    from ..accounts import roster

    ctx.open_site_db()
    for chunk in roster.export_roster():
        output.write(chunk)


@user.command("set")
@click.argument("username")
@click.option("--name", "display_name")
@click.option("--role", type=click.Choice(["learner", "instructor", "mentor", "admin"]))
@click.option("--language", type=click.Choice(["km", "en"]))
@click.option("--active/--inactive", default=None, help="Reactivate or deactivate the account.")
@pass_ctx
def user_set(
    ctx: CliContext,
    username: str,
    display_name: str | None,
    role: str | None,
    language: str | None,
    active: bool | None,
) -> None:
    """Change an account's name, role, language or whether it may sign in."""
    from .. import accounts

    ctx.open_site_db()
    target = accounts.get_user(username=username)
    accounts.update_user(
        target, display_name=display_name, role=role, language=language, active=active
    )
    click.echo(f"updated {target.username}")


@user.command("password")
@click.argument("username")
@click.option("--password", help="New password (else read from stdin or prompted).")
@pass_ctx
def user_password(ctx: CliContext, username: str, password: str | None) -> None:
    """Reset an account's password; every phone signed in as it is signed out."""
    from .. import accounts

    ctx.open_site_db()
    target = accounts.get_user(username=username)
    accounts.set_password(target, _read_password(password))
    click.echo(f"password changed for {target.username}")


@user.command("unlock")
@click.argument("username")
@pass_ctx
def user_unlock(ctx: CliContext, username: str) -> None:
    """Lift the sign-in lock that wrong passwords (from any phone) put on an account."""
    from .. import accounts
    from ..web.ratelimit import LoginLimiter

    db = ctx.open_site_db()
    target = accounts.get_user(username=username)
    LoginLimiter.from_settings(db, ctx.settings).unlock(target.username)
    click.echo(f"unlocked {target.username}")


@click.group()
def cohort() -> None:
    """Create cohorts (classes) and choose who learns and teaches in them."""


@cohort.command("add")
@click.argument("name")
@click.option("--description", default="", help="A line about the cohort.")
@click.option(
    "--instructor", "instructors", multiple=True, help="Instructor username (repeatable)."
)
@pass_ctx
def cohort_add(ctx: CliContext, name: str, description: str, instructors: tuple[str, ...]) -> None:
    """Create a cohort."""
    from .. import accounts

    db = ctx.open_site_db()
    with db.atomic():
        teachers = [accounts.get_user(username=u) for u in instructors]
        created = accounts.create_cohort(name, description)
        for teacher in teachers:
            accounts.add_to_cohort(created, teacher)
    click.echo(f"created cohort {created.name}")


@cohort.command("members")
@click.argument("name")
@click.option("--add", "to_add", multiple=True, help="Username to add (repeatable).")
@click.option("--remove", "to_remove", multiple=True, help="Username to remove (repeatable).")
@pass_ctx
def cohort_members(
    ctx: CliContext, name: str, to_add: tuple[str, ...], to_remove: tuple[str, ...]
) -> None:
    """Add or remove learners and instructors, then list the cohort."""
    from .. import accounts

    db = ctx.open_site_db()
    with db.atomic():
        target = accounts.get_cohort(name=name)
        for username in to_add:
            accounts.add_to_cohort(target, accounts.get_user(username=username))
        for username in to_remove:
            accounts.remove_from_cohort(target, accounts.get_user(username=username))
    for teacher in accounts.cohort_instructors(target):
        click.echo(f"{teacher.username}\tinstructor\t{teacher.display_name}")
    for learner in accounts.cohort_learners(target):
        click.echo(f"{learner.username}\tlearner\t{learner.display_name}")


@cohort.command("list")
@pass_ctx
def cohort_list(ctx: CliContext) -> None:
    """List cohorts with their number of learners."""
    from .. import accounts

    ctx.open_site_db()
    from ..accounts.models import Cohort

    for c in Cohort.select().order_by(Cohort.name):
        click.echo(f"{c.name}\t{len(accounts.cohort_learners(c))} learner(s)")
