"""``kru setup ...``: check a first-boot file, and apply it at first boot."""

from __future__ import annotations

from pathlib import Path

import click

from .context import CliContext, pass_ctx


@click.group()
def setup() -> None:
    """Check and apply kru-setup.toml, the first-boot file of a Raspberry Pi."""


@setup.command("check")
@click.argument("setup_file", type=click.Path(dir_okay=False, path_type=Path))
def setup_check(setup_file: Path) -> None:
    """Check a kru-setup.toml before copying it to a Pi's boot partition.

    Prints every problem found; exit status 1 when there is any.
    """
    from ..site import provisioning

    try:
        text = setup_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {setup_file}: {exc}") from exc
    try:
        checked = provisioning.parse_setup(text, setup_file.parent)
    except provisioning.SetupInvalid as exc:
        for problem in exc.problems:
            click.echo(f"{setup_file.name}: {problem}", err=True)
        raise click.ClickException(exc.message) from exc
    click.echo(f"{setup_file.name} is good: Wi-Fi {checked.ssid}, admin {checked.admin_username}")


@setup.command("first-boot")
@click.option(
    "--boot-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="/boot/firmware",
    show_default=True,
    help="The boot partition holding kru-setup.toml.",
)
@click.option(
    "--etc-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="/etc",
    show_default=True,
    help="Where the hotspot's hostapd, dnsmasq and avahi files are written.",
)
@click.option(
    "--templates",
    type=click.Path(file_okay=False, path_type=Path),
    default="/opt/kru/deploy/hotspot",
    show_default=True,
    help="The hotspot templates of the installed bundle.",
)
@pass_ctx
def setup_first_boot(ctx: CliContext, boot_dir: Path, etc_dir: Path, templates: Path) -> None:
    """Apply kru-setup.toml from the boot partition once, then remove its secrets.

    Run by kru-firstboot.service. Problems go to kru-setup-errors.txt on the boot partition
    and to stderr; nothing is done when this Pi was set up already and no new file is there.
    """
    from ..base.errors import KruError
    from ..site import provisioning

    if not ctx.config_file:
        raise click.ClickException("first boot needs the site config file: --config or KRU_CONFIG")
    config_file = Path(ctx.config_file)
    try:
        data_dir = Path(ctx.settings.data_dir)
    except KruError as exc:  # a broken /etc/kru/kru.toml: say so where the admin looks
        problem = f"the Pi cannot apply the file: {exc.message}"
        provisioning.write_errors(boot_dir, [problem])
        click.echo(f"kru-setup.toml: {problem}", err=True)
        raise click.ClickException(
            f"first boot stopped; the problems are in {boot_dir / provisioning.ERRORS_FILE}"
        ) from exc
    targets = provisioning.Targets(
        config_file=config_file, data_dir=data_dir, etc_dir=etc_dir, templates=templates
    )
    try:
        applied = provisioning.first_boot(boot_dir, targets, lambda: ctx.settings)
    except provisioning.SetupInvalid as exc:
        for problem in exc.problems:
            click.echo(f"kru-setup.toml: {problem}", err=True)
        raise click.ClickException(
            f"first boot stopped; the problems are in {boot_dir / provisioning.ERRORS_FILE}"
        ) from exc
    if applied is None:
        click.echo("this Pi is set up already; nothing to do")
        return
    click.echo(
        f"set up {applied.site_name} ({applied.site_kind}, {applied.province}): "
        f"Wi-Fi {applied.ssid}, admin account {applied.admin_username}"
    )
