"""``kru serve`` and ``kru demo``."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable

import click

from .context import CliContext, pass_ctx


def lean_site_process() -> None:
    """Keep PostgreSQL's driver out of the site server, before anything imports peewee.

    The site server only ever opens SQLite, but peewee imports psycopg2 when it is installed
    (a development machine, a central server), and with it libpq and its TLS and Kerberos
    libraries: 5 MB in every server process (issue 22). A Pi's bundle has no psycopg2.
    """
    if "peewee" not in sys.modules:
        sys.modules.setdefault("psycopg2", None)  # type: ignore[arg-type]


def _serve(
    ctx: CliContext,
    banner: list[str] | None = None,
    worker_of: str | None = None,
    **overrides: object,
) -> None:
    lean_site_process()
    if worker_of is not None:
        _serve_as_worker(ctx, worker_of, **overrides)
        return
    from ..base import integrity, logs
    from ..base.datahome import DataHome
    from ..base.db import close_db
    from ..base.server import auto_workers, serve_workers, serve_wsgi
    from ..site.app import create_app
    from ..site.worker_state import prepare_before_fork, share_between_workers
    from ..web import bodylimit

    settings = ctx.with_overrides(**overrides)
    home = DataHome(settings.data_dir).ensure()
    logs.configure(settings["log_level"], home.logs)
    from ..site.usb_backup import apply_pending_restore

    apply_pending_restore(home)  # a restore from USB the Site page staged before restarting
    checked = integrity.quick_check(home.database) if home.database.exists() else None
    if isinstance(checked, integrity.Damaged):
        _serve_recovery(settings, home, checked)
        return
    app = create_app(settings=settings, checked=checked)  # migrations run here, before any worker
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    workers = settings["workers"] or auto_workers()

    scheduler = snapshot_scheduler(settings, home)

    def ready(url: str) -> None:
        click.echo(f"Kru is serving on {url}", err=False)
        for line in banner or []:
            click.echo(line)
        if scheduler is not None:  # here: after the workers are forked, in the parent only
            scheduler.start()

    where = {
        "host": settings["host"],
        "port": settings["port"],
        "threads": settings["threads"],
        "connection_limit": settings["connection_limit"],
        "body_cap": bodylimit.server_cap(app),
        "pid_file": home.pid_file,
        "on_ready": ready,
    }
    try:
        if workers == 1:
            serve_wsgi(app, **where)
        else:
            share_between_workers(app, home.tmp)
            prepare_before_fork(app)
            serve_workers(
                app,
                workers=workers,
                before_fork=close_db,
                worker_argv=_worker_argv(ctx, settings),
                **where,
            )
    finally:
        if scheduler is not None:
            scheduler.stop()


def _worker_argv(ctx: CliContext, settings) -> Callable[[int, int], list[str]]:
    """Return how to start a fresh worker of this server (one in place of a worker that died)."""

    def argv(parent: int, fd: int) -> list[str]:
        command = [sys.executable, "-m", "edge_server.cli"]
        if ctx.config_file:
            command += ["--config", str(ctx.config_file)]
        command += ["--data-dir", str(settings.data_dir), "serve"]
        return [*command, "--threads", str(settings["threads"]), "--worker-of", f"{parent}:{fd}"]

    return argv


def _serve_as_worker(ctx: CliContext, worker_of: str, **overrides: object) -> None:
    """Serve as a worker of a running ``kru serve`` on the listening socket it handed down."""
    from ..base import logs
    from ..base.datahome import DataHome
    from ..base.server import adopt_listening_socket, serve_spawned_worker
    from ..site.app import create_app
    from ..site.worker_state import share_between_workers
    from ..web import bodylimit

    try:
        parent, fd = (int(part) for part in worker_of.split(":"))
    except ValueError:
        raise click.BadParameter("PARENT_PID:FD", param_hint="--worker-of") from None
    sock = adopt_listening_socket(parent, fd)
    settings = ctx.with_overrides(**overrides)
    home = DataHome(settings.data_dir).ensure()
    logs.configure(settings["log_level"], home.logs)
    app = create_app(settings=settings)
    app.config["KRU_KEEP_DB_CONNECTIONS"] = True
    share_between_workers(app, home.tmp)
    serve_spawned_worker(
        app,
        sock,
        parent=parent,
        threads=settings["threads"],
        connection_limit=settings["connection_limit"],
        body_cap=bodylimit.server_cap(app),
    )


def snapshot_scheduler(settings, home):
    """Return the snapshot scheduler the serving process runs, or None when turned off."""
    from ..base.snapshots import Scheduler

    if not settings["snapshots.interval_s"]:
        return None
    return Scheduler(
        home,
        settings["snapshots.interval_s"],
        settings["snapshots.keep_hourly"],
        settings["snapshots.keep_daily"],
    )


@click.command()
@click.option("--host", help="Address to listen on (setting host).")
@click.option("--port", type=int, help="TCP port (setting port).")
@click.option("--threads", type=int, help="Threads per worker process (setting threads).")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Server processes; 0 picks one per core, at most 2, 1 under 6 GB (setting workers).",
)
@click.option(
    "--worker-of",
    metavar="PARENT_PID:FD",
    hidden=True,
    help="Serve as a worker of a running server on the listening socket FD it handed down.",
)
@pass_ctx
def serve(
    ctx: CliContext,
    host: str | None,
    port: int | None,
    threads: int | None,
    workers: int | None,
    worker_of: str | None,
) -> None:
    """Serve the site on waitress (applies pending migrations first).

    With several workers the first process forks the others and serves too; it keeps the
    PID file and starts a fresh worker in place of any that dies. SIGTERM stops them all.
    """
    _serve(ctx, worker_of=worker_of, host=host, port=port, threads=threads, workers=workers)


@click.command()
@click.option("--port", type=int, default=8080, show_default=True, help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Keep the demo in this directory (also accepted before the command).",
)
@pass_ctx
def demo(ctx: CliContext, port: int, host: str, data_dir: str | None) -> None:
    """Create demo accounts and the sample pack in a data directory, then serve it.

    Without --data-dir a temporary directory is used and forgotten afterwards; with it the
    demo stays there, and running the command again serves it as it was.
    """
    from ..site import demo as demo_data

    if data_dir:
        ctx.data_dir = data_dir
        ctx._settings = None
    if not ctx.data_dir:
        ctx.data_dir = tempfile.mkdtemp(prefix="kru-demo-")
        ctx._settings = None
    ctx.open_site_db()
    demo_data.seed(ctx.settings)
    banner = [f"Data directory: {ctx.settings.data_dir}", "Demo sign-ins (password demo1234):"]
    banner += [f"  {user:<12} {role}" for user, _pw, role in demo_data.demo_logins()]
    _serve(ctx, banner=banner, host=host, port=port)


def _serve_recovery(settings, home, damaged) -> None:
    """Serve the recovery app (one process) until a snapshot is restored, then the site."""
    from ..base.db import close_db, db
    from ..base.server import serve_wsgi
    from ..learning import progress
    from ..site import recovery
    from ..site.app import create_app
    from ..site.recovery_app import SwitchableApp, create_recovery_app

    code = recovery.new_code()
    code_file = settings["recovery.code_file"]
    recovery.publish_code(code, code_file)
    scheduler = snapshot_scheduler(settings, home)
    holder: SwitchableApp

    def restored(snap, salvaged) -> int:
        app = create_app(settings=settings)  # migrations of the restored file run here
        app.config["KRU_KEEP_DB_CONNECTIONS"] = True
        count = 0
        if salvaged is not None:
            db.connect(reuse_if_open=True)
            try:
                count = recovery.reingest(db, salvaged)
                if count:
                    progress.rebuild()
            finally:
                close_db()
        holder.switch(app)
        recovery.forget_code(code_file)
        if scheduler is not None:
            scheduler.start()
        click.echo(f"Restored {snap.name}; {count} salvaged event(s) put back; serving the site")
        return count

    holder = SwitchableApp(create_recovery_app(settings, home, damaged, code, restored))

    def ready(url: str) -> None:
        click.echo(f"The database is damaged: {damaged.describe()}")
        click.echo(f"Kru is in RECOVERY MODE on {url}")
        click.echo(f"Open {url}recovery and sign in with the recovery code {code}")

    try:
        serve_wsgi(
            holder,
            host=settings["host"],
            port=settings["port"],
            threads=settings["threads"],
            connection_limit=settings["connection_limit"],
            pid_file=home.pid_file,
            on_ready=ready,
        )
    finally:
        recovery.forget_code(code_file)
        if scheduler is not None:
            scheduler.stop()
