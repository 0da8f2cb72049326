"""``kru release ...``: sign Kru bundles offline, check them, apply one on this Pi (issue 20)."""

from __future__ import annotations

from pathlib import Path

import click

from .context import CliContext, pass_ctx


@click.group()
def release() -> None:
    """Kru release bundles: sign (offline machine), verify, apply, status."""


@release.command("keygen")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File for the new private key (mode 0600; never overwritten). Keep it offline.",
)
def keygen(out: Path) -> None:
    """Make the release signing key; print its public key (the .pub for the Pi image)."""
    from content_packs.signing import generate_key

    click.echo(generate_key(out))


@release.command("sign")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The release private key (made by `kru release keygen`).",
)
def sign(bundle: Path, key_file: Path) -> None:
    """Sign BUNDLE (kru-bundle-VERSION-ARCH.tar.gz); write BUNDLE.sig beside it."""
    from content_packs.signing import load_private_key
    from sync import release_record as rr

    if not bundle.is_file():
        raise click.ClickException(f"there is no file {bundle}")
    made = rr.sign(bundle, load_private_key(key_file))
    rr.sig_path(bundle).write_bytes(made.record_bytes())
    click.echo(
        f"signed Kru {made.version} ({made.arch}) with key {made.public_key}: {rr.sig_path(bundle)}"
    )


@release.command("verify")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of trusted release keys (*.pub); default: the setting releases.keys_dir.",
)
@click.option(
    "--sig",
    "sig_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signature record (default: BUNDLE.sig).",
)
@pass_ctx
def verify(ctx: CliContext, bundle: Path, keys_dir: Path | None, sig_file: Path | None) -> None:
    """Check BUNDLE against its signature and the trusted keys; print VERSION ARCH SHA256."""
    from sync import release_record as rr

    keys = rr.trusted_keys(keys_dir or Path(ctx.settings["releases.keys_dir"]))
    sig = sig_file or rr.sig_path(bundle)
    try:
        sig_bytes = sig.read_bytes()[: rr.MAX_SIG_BYTES + 1]
    except OSError as exc:
        raise click.ClickException(f"cannot read the signature {sig}: {exc.strerror}") from exc
    made = rr.verify(bundle, sig_bytes, keys)
    click.echo(f"{made.version} {made.arch} {made.sha256}")


@release.command("apply")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def apply(ctx: CliContext, bundle: Path) -> None:
    """Check BUNDLE (and BUNDLE.sig) and have the root helper upgrade this Pi to it."""
    from sync import release_record as rr
    from sync.edge import releases

    try:
        sig = rr.sig_path(bundle).read_bytes()[: rr.MAX_SIG_BYTES + 1]
    except OSError as exc:
        raise click.ClickException(
            f"no signature {rr.sig_path(bundle).name} beside the bundle"
        ) from exc
    made = releases.stage(ctx.settings, ctx.home, bundle, sig)
    releases.apply(ctx.settings, ctx.home)
    click.echo(f"Kru {made.version} is staged; the helper installs it and restarts Kru")


@release.command("status")
@pass_ctx
def status(ctx: CliContext) -> None:
    """Print the version running and the last upgrade's state and reason."""
    from sync.edge import releases

    part = releases.report_part(ctx.home)
    reason = f"\t{part['reason']}" if part["reason"] else ""
    click.echo(f"running {part['running']}\tlast {part['version']} {part['state']}{reason}")
