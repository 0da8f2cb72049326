"""Results: one JSON file per run with every figure by name, and the table in the docs."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .core import Scenario

TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"
COMMAND = "python -m bench"


def machine() -> dict[str, Any]:
    """Describe the machine the figures were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def row_for(
    scenario: Scenario, outcome: dict[str, Any], profile: str = "default"
) -> list[dict[str, Any]]:
    """Return the table rows of one scenario's outcome (one per target of ``profile``)."""
    rows = []
    for target in scenario.targets_for(profile):
        figures = outcome.get("figures") or {}
        measured = figures.get(target.figure)
        if outcome["status"] != "ok":
            met = None
        else:
            met = target.met(measured if isinstance(measured, int | float) else None)
        rows.append(
            {
                "scenario": scenario.name,
                "label": target.label,
                "figure": target.figure,
                "target": f"{target.op} {target.value:g}" if target.op else "(reported)",
                "unit": target.unit,
                "measured": measured,
                "met": met,
                "status": outcome["status"],
            }
        )
    return rows


def _measured_text(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        return row["status"]
    value = row["measured"]
    if value is None:
        return "not measured"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def markdown_table(rows: list[dict[str, Any]], profile: str = "default") -> str:
    """Return the results as a Markdown table: scenario, target, measured, met, command."""
    option = "" if profile == "default" else f"--profile {profile} "
    lines = [
        "| scenario | target | measured | met | command |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "–"}[row["met"]]
        lines.append(
            f"| {row['label']} | {row['target']} | {_measured_text(row)} | {met} "
            f"| `{COMMAND} {option}--only {row['scenario']}` |"
        )
    return "\n".join(lines)


def write_results(
    out_dir: Path, results: dict[str, Any], stamp: datetime | None = None, profile: str = "default"
) -> Path:
    """Write ``results`` to ``<out_dir>/<UTC timestamp>[-<profile>].json``; return the path."""
    stamp = stamp or datetime.now(UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if profile == "default" else f"-{profile}"
    path = out_dir / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}{suffix}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def markers(profile: str = "default") -> tuple[str, str]:
    """Return the comments around a profile's table in the docs (default: the first table)."""
    if profile == "default":
        return TABLE_START, TABLE_END
    return f"<!-- bench:table:{profile}:start -->", f"<!-- bench:table:{profile}:end -->"


def update_docs(doc: Path, table: str, header: str, profile: str = "default") -> bool:
    """Replace the profile's table between its markers in ``doc``; return whether it was there."""
    start, end = markers(profile)
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        return False
    block = f"{start}\n{header}\n\n{table}\n{end}"
    doc.write_text(pattern.sub(lambda _m: block, text), encoding="utf-8")
    return True
