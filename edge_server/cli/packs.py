"""``kru pack ...``: build, validate, sign, install, list and remove content packs."""

from __future__ import annotations

from pathlib import Path

import click

from edge_server.cli.context import CliContext, pass_ctx


@click.group()
def pack() -> None:
    """Build, check, sign, install and remove content packs (see docs/content-packs.md)."""


@pack.command("build")
@click.argument("src_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the pack zip.",
)
def build(src_dir: Path, out: Path) -> None:
    """Build a pack zip from a folder with pack.toml, lessons, quizzes and media."""
    from content_packs.build import build_pack
    from content_packs.manifest import iter_items

    manifest = build_pack(src_dir, out)
    items = sum(1 for _ in iter_items(manifest))
    click.echo(
        f"built {out}: {manifest['id']} {manifest['version']}, "
        f"{items} items, {len(manifest['files'])} files"
    )


@pack.command("validate")
@click.argument("pack_zip", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def validate(ctx: CliContext, pack_zip: Path) -> None:
    """Check a pack zip; print one line per problem and exit 1 if there is any.

    The site's settings decide whether unsigned packs pass and which keys are trusted.
    """
    from content_packs.validate import inspect_pack

    checked, problems = inspect_pack(pack_zip, ctx.settings)
    if problems:
        for problem in problems:
            click.echo(f"{pack_zip}: {problem.line()}", err=True)
        raise SystemExit(1)
    assert checked is not None
    state = "signed" if checked.signed else "unsigned"
    click.echo(f"{pack_zip}: valid ({checked.pack_id} {checked.version}, {state})")


@pack.command("keygen")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File for the new private key (written with mode 0600; never overwritten).",
)
def keygen(out: Path) -> None:
    """Make an Ed25519 signing key; print its public key for packs.trusted_keys."""
    from content_packs.signing import generate_key

    click.echo(generate_key(out))


@pack.command("sign")
@click.argument("pack_zip", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file made by `kru pack keygen`.",
)
def sign(pack_zip: Path, key_file: Path) -> None:
    """Sign a pack zip in place (adds manifest.sig); print the public key."""
    from content_packs.signing import sign_pack

    public = sign_pack(pack_zip, key_file)
    click.echo(f"signed {pack_zip} with key {public}")


@pack.command("install")
@click.argument("pack_zip", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Install an older version, or replace same version.")
@pass_ctx
def install(ctx: CliContext, pack_zip: Path, force: bool) -> None:
    """Install or upgrade a pack from a zip file (also on a USB drive under /media)."""
    from content_packs.errors import InvalidPack
    from content_packs.install import install_pack

    ctx.open_site_db()
    try:
        result = install_pack(pack_zip, ctx.settings, ctx.home, force=force, installed_by="cli")
    except InvalidPack as exc:
        # Every problem, one line each, as the upload page lists them.
        for problem in exc.problems:
            click.echo(f"Error: {problem.line()}", err=True)
        raise SystemExit(1) from exc
    state = "signed" if result.signed else "unsigned"
    if result.already_installed:
        click.echo(f"{result.pack_id} {result.version} is installed already; nothing changed")
    elif result.upgraded_from:
        click.echo(
            f"upgraded {result.pack_id} {result.upgraded_from} -> {result.version} ({state})"
        )
    else:
        click.echo(f"installed {result.pack_id} {result.version} ({state})")


@pack.command("list")
@pass_ctx
def list_(ctx: CliContext) -> None:
    """List installed packs: id, version, signed or unsigned, items, title."""
    from content_packs.install import list_packs

    ctx.open_site_db()
    for p in list_packs():
        state = "signed" if p["signed"] else "unsigned"
        click.echo(f"{p['id']}\t{p['version']}\t{state}\t{p['items']} items\t{p['title_en']}")


@pack.command("remove")
@click.argument("pack_id")
@pass_ctx
def remove(ctx: CliContext, pack_id: str) -> None:
    """Remove an installed pack; learners' events and progress records are kept."""
    from content_packs.install import remove_pack

    ctx.open_site_db()
    info = remove_pack(pack_id, ctx.home)
    click.echo(f"removed {info['pack_id']} {info['version']}")


@pack.command("choose")
@click.argument("pack_id")
@click.argument("choice", type=click.Choice(["official", "local"]))
@pass_ctx
def choose(ctx: CliContext, pack_id: str, choice: str) -> None:
    """Keep this site's version of a pack it edited (local), or take central's (official).

    Lists what this site's versions changed, which the official version does not have.
    """
    from sync.edge import downloads, local_versions

    ctx.open_site_db()
    state = downloads.read_state(ctx.home)["packs"]
    local_versions.choose(ctx.home, state, pack_id, choice, "kru")
    for held in local_versions.waiting(ctx.home, state):
        if held["pack_id"] != pack_id:
            continue
        for edit in held["edits"]:
            changes = "; ".join(
                f"{kind} {', '.join(slugs)}" for kind, slugs in edit["changes"].items() if slugs
            )
            click.echo(f"{edit['version']}\t{edit['published_by']}\t{changes or 'no item changes'}")
    click.echo(f"{pack_id}: {choice} version chosen; it applies at the next sync")


@pack.command("export")
@click.argument("pack")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New or empty folder for the pack's source (pack.toml, lessons, quizzes, media).",
)
@pass_ctx
def export(ctx: CliContext, pack: str, out: Path) -> None:
    """Write the source folder of a pack zip or an installed pack id.

    `kru pack build` turns the folder back into the same manifest and files.
    """
    from content_packs.authoring.source import export_installed, export_zip

    if Path(pack).is_file():
        manifest = export_zip(Path(pack), out)
    else:
        ctx.open_site_db()
        manifest = export_installed(pack, ctx.home, out)
    click.echo(f"exported {manifest['id']} {manifest['version']} to {out}")


@pack.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the pack zip (default: the file's name with .pack.zip).",
)
@click.option(
    "--open", "open_course", is_flag=True, help="Every learner of the site sees the course."
)
def import_(source: Path, out: Path | None, open_course: bool) -> None:
    """Turn an H5P, GIFT, Aiken, Moodle XML or QTI file into a pack zip; print the report."""
    from content_packs.importers.convert import import_file

    out = out or source.with_name(source.name.split(".")[0] + ".pack.zip")
    report = import_file(source, out, open_course=open_course)
    for line in report.lines():
        click.echo(line)
    click.echo(f"wrote {out}")
