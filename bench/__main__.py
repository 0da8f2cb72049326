"""``python -m bench [--quick] [--only NAME ...] [--profile pi4 pi3]``: build a site, serve it,
measure it.

Builds a fresh data home (a class of 60 learners, the sample pack, a 50-item course with
a 50 MB video, 500 Khmer lessons, a term of events), starts ``kru serve`` on a free
loopback port, runs every scenario against it with wrk, and writes
``bench/results/<timestamp>.json``. A full run also rewrites the results table in
docs/performance.md. ``--quick`` runs every scenario briefly on a smaller site, to prove
the benchmarks still work (CI); its figures are not comparable. ``--profile`` runs the
server as on a Raspberry Pi 4 or 3B+ (bench/profiles.py), each profile with its own site,
results file and table.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from . import report
from .core import Bench, Durations, NotAvailable
from .load import LoadToolMissing, wrk_path
from .profiles import PROFILES, Confinement, Profile, server_env
from .scenarios import SCENARIOS
from .server import SERVICE_ENV, KruServer, byte_compile
from .sitedata import build_site

log = logging.getLogger("bench")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DOC = ROOT / "docs" / "performance.md"

# The full site matches the issue; the quick one keeps CI short.
FULL_SITE = {"events": 100_000, "search_lessons": 500, "video_bytes": 50 * 1024 * 1024}
QUICK_SITE = {"events": 5_000, "search_lessons": 100, "video_bytes": 4 * 1024 * 1024}

# Phones on the site Wi-Fi each have their own address; on loopback every simulated phone
# shares 127.0.0.1, so the per-address sign-in limit is raised for the benchmark server.
SERVER_ENV = {
    "KRU_AUTH_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
    "KRU_LOG_LEVEL": "WARNING",
    **SERVICE_ENV,
}


# Every run starts the server, signs the class in (the sessions later scenarios use) and
# stops the server at the end.
ALWAYS = ("startup", "login_storm", "shutdown")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [s.name for s in SCENARIOS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="run every scenario briefly")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=names,
        metavar="NAME",
        help=f"run only these scenarios (plus {', '.join(ALWAYS)}): {', '.join(names)}",
    )
    parser.add_argument(
        "--profile",
        nargs="+",
        choices=list(PROFILES),
        default=["default"],
        metavar="NAME",
        help="run as on this board, one after the other: "
        + "; ".join(f"{p.name}: {p.title}" for p in PROFILES.values()),
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--no-docs", action="store_true", help="do not rewrite the table in docs/performance.md"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark data home")
    return parser.parse_args(argv)


def run_scenarios(bench: Bench, only: set[str] | None) -> dict[str, Any]:
    """Run the scenarios in order; one failing never stops the others."""
    outcomes: dict[str, Any] = {}
    for scenario in SCENARIOS:
        if only and scenario.name not in only | set(ALWAYS):
            continue
        log.info("scenario %s: %s", scenario.name, scenario.title)
        began = time.monotonic()
        try:
            figures = scenario.run(bench)
            outcome: dict[str, Any] = {"status": "ok", "figures": figures}
        except NotAvailable as exc:
            outcome = {"status": f"not available: {exc}", "figures": {}}
        except Exception as exc:  # record it and go on with the next scenario
            log.error("scenario %s failed: %s", scenario.name, exc)
            outcome = {
                "status": f"error: {exc}",
                "figures": {},
                "traceback": traceback.format_exc(),
            }
            if scenario.name == "startup":
                outcomes[scenario.name] = {**outcome, "title": scenario.title}
                break
        outcome["title"] = scenario.title
        outcome["seconds"] = round(time.monotonic() - began, 1)
        # Other programs on the machine take CPU from the server and wrk; keep the evidence.
        outcome["load_average_after"] = round(os.getloadavg()[0], 2)
        outcomes[scenario.name] = outcome
        bench.measured[scenario.name] = outcome["figures"]
        log.info("  %s %s", outcome["status"], outcome["figures"])
    return outcomes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        wrk_path()
    except LoadToolMissing as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    if not byte_compile():  # the server starts from .pyc files, as on a Pi
        print("bench: Kru's modules could not be byte-compiled (see above)", file=sys.stderr)
        return 1
    code = 0
    for name in dict.fromkeys(args.profile):
        code = max(code, run_profile(args, PROFILES[name]))
    return code


def _selected(args: argparse.Namespace, profile: Profile) -> set[str] | None:
    """Return the scenarios to run (None: all): the profile's, narrowed by ``--only``."""
    chosen = set(args.only) if args.only else None
    if profile.scenarios is not None:
        chosen = set(profile.scenarios) & chosen if chosen else set(profile.scenarios)
    return chosen


def run_profile(args: argparse.Namespace, profile: Profile) -> int:
    """Build a site, run the scenarios on ``profile``, write results and the docs table."""
    machine = report.machine()  # the load average before the run, too
    commit = report.git_commit(ROOT)  # the code that runs, even if a commit lands meanwhile
    site_size = QUICK_SITE if args.quick else FULL_SITE
    workdir = Path(tempfile.mkdtemp(prefix="kru-bench-"))
    log.info("profile %s: %s", profile.name, profile.title)
    log.info("building the benchmark site in %s (%s)", workdir, site_size)
    began = time.monotonic()
    site = build_site(workdir / "home", **site_size)
    log.info("site built in %.1fs: %s", time.monotonic() - began, site.timings_s)
    affinity = os.sched_getaffinity(0)
    try:
        confinement = Confinement(profile).setup()
    except RuntimeError as exc:
        print(f"bench: profile {profile.name}: {exc}", file=sys.stderr)
        return 1
    env = {**SERVER_ENV, **server_env(profile)}
    server = KruServer(site.data_dir, env=env, preexec=confinement.enter)
    bench = Bench(site, server, workdir, args.quick, Durations.for_mode(args.quick))
    bench.profile = profile
    bench.confinement = confinement
    try:
        outcomes = run_scenarios(bench, _selected(args, profile))
    finally:
        if bench.front is not None:
            bench.front.stop()
        server.kill()
        confinement.close()
        os.sched_setaffinity(0, affinity)
    rows = [
        row
        for scenario in SCENARIOS
        if scenario.name in outcomes
        for row in report.row_for(scenario, outcomes[scenario.name], profile.name)
    ]
    results = {
        "mode": "quick" if args.quick else "full",
        "profile": {
            "name": profile.name,
            "title": profile.title,
            "confinement": confinement.method,
            "server_env": server_env(profile),
        },
        "commit": commit,
        "machine": machine,
        "site": {**site_size, "events_stored": site.events, "build_s": site.timings_s},
        "scenarios": outcomes,
        "table": rows,
    }
    path = report.write_results(args.out, results, profile=profile.name)
    table = report.markdown_table(rows, profile.name)
    print(table)
    print(f"\nresults: {path}")
    if not args.quick and not args.only and not args.no_docs:
        header = (
            f"Measured {path.stem} on {machine['cpus']} cores "
            f"({machine['cpu'] or 'unknown CPU'}), commit {commit}, "
            f"load average {machine['load_average'][0]} before the run"
        )
        if profile.name != "default":
            settings = ", ".join(f"{k}={v}" for k, v in server_env(profile).items())
            header += (
                f" and {outcomes.get('shutdown', {}).get('load_average_after', '?')} at its end. "
                f"Profile {profile.name}: {profile.title}; Kru's settings for the board: "
                f"{settings}; {'; '.join(confinement.method)}."
            )
        else:
            header += "."
        if report.update_docs(DOC, table, header, profile.name):
            print(f"updated {DOC.relative_to(ROOT)}")
    if args.keep:
        print(f"data home kept: {site.data_dir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    errors = [name for name, o in outcomes.items() if o["status"].startswith("error")]
    if errors:
        print(f"bench: scenarios failed: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
