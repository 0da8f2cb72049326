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


def row_for(scenario: Scenario, outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the table rows of one scenario's outcome (one per target)."""
    rows = []
    for target in scenario.targets:
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
                "target": f"{target.op} {target.value:g}",
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


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Return the results as a Markdown table: scenario, target, measured, met, command."""
    lines = [
        "| scenario | target | measured | met | command |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "–"}[row["met"]]
        lines.append(
            f"| {row['label']} | {row['target']} | {_measured_text(row)} | {met} "
            f"| `{COMMAND} --only {row['scenario']}` |"
        )
    return "\n".join(lines)


def write_results(out_dir: Path, results: dict[str, Any], stamp: datetime | None = None) -> Path:
    """Write ``results`` to ``<out_dir>/<UTC timestamp>.json`` and return the path."""
    stamp = stamp or datetime.now(UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def update_docs(doc: Path, table: str, header: str) -> bool:
    """Replace the table between the bench markers in ``doc``; return whether it was there."""
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    if not pattern.search(text):
        return False
    block = f"{TABLE_START}\n{header}\n\n{table}\n{TABLE_END}"
    doc.write_text(pattern.sub(lambda _m: block, text), encoding="utf-8")
    return True
