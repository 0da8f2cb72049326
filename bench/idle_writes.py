"""How much an idle site writes to its disk per hour (issue 19, storage wear).

    .venv/bin/python -m bench.idle_writes [--minutes 20] [--dir DIR]

Starts ``kru serve`` and ``kru sync daemon`` on a fresh site in DIR (a folder on the disk to
measure; default a temporary folder under the current directory), waits 150 s for start-up
to settle (a new site takes its first snapshot in the first minute), then measures for
``--minutes`` with nobody using the site. Two figures, scaled to
an hour:

* ``/proc/diskstats``: sectors written to the block device holding DIR. This is what wears an
  SD card, but on a shared machine it counts everyone's writes: it is the figure on a Pi that
  runs nothing else.
* ``/proc/<pid>/io`` ``write_bytes``: bytes Kru's own processes sent to storage, exact on
  any machine; the figure docs/performance.md states.

The sync daemon has no central server here, so it tries, fails, and records the attempt as it
would at a site without a connection.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .server import KRU, KruServer, process_tree

SECTOR = 512


def device_of(path: Path) -> str:
    """Return the /proc/diskstats name of the block device holding ``path`` (``vda``)."""
    dev = os.stat(path).st_dev
    major, minor = os.major(dev), os.minor(dev)
    for line in Path("/proc/diskstats").read_text().splitlines():
        fields = line.split()
        if int(fields[0]) == major and int(fields[1]) == minor:
            return fields[2]
    raise RuntimeError(f"no block device for {path} ({major}:{minor}); is it on tmpfs?")


def sectors_written(device: str) -> int:
    for line in Path("/proc/diskstats").read_text().splitlines():
        fields = line.split()
        if fields[2] == device:
            return int(fields[9])
    raise RuntimeError(f"{device} is not in /proc/diskstats")


def process_writes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/io").read_text().splitlines():
                if line.startswith("write_bytes:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def measure(base: Path, minutes: float, settle_s: float = 150.0) -> dict[str, float | str]:
    data = base / "site"
    env = {**os.environ, "KRU_AUTH_HASH_MEMORY_KIB": "1024", "KRU_AUTH_HASH_TIME_COST": "1"}
    subprocess.run(
        [
            *KRU,
            "--data-dir",
            str(data),
            "user",
            "add",
            "admin",
            "--role",
            "admin",
            "--password",
            "lotus-pond-7",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    device = device_of(data)
    with KruServer(data, env=env) as server:
        server.start()
        agent = subprocess.Popen(
            [*KRU, "--data-dir", str(data), "sync", "daemon"],
            env={**env, "KRU_SYNC_CENTRAL_URL": "http://127.0.0.1:9"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(settle_s)
            serve0 = process_writes(process_tree(server.pid))
            agent0 = process_writes([agent.pid])
            disk0, t0 = sectors_written(device), time.monotonic()
            time.sleep(minutes * 60)
            serve1 = process_writes(process_tree(server.pid))
            agent1 = process_writes([agent.pid])
            disk1, t1 = sectors_written(device), time.monotonic()
        finally:
            agent.terminate()
            agent.wait(timeout=20)
    hours = (t1 - t0) / 3600
    return {
        "device": device,
        "minutes": round((t1 - t0) / 60, 1),
        "kru_bytes_per_hour": round((serve1 - serve0 + agent1 - agent0) / hours),
        "serve_bytes_per_hour": round((serve1 - serve0) / hours),
        "sync_agent_bytes_per_hour": round((agent1 - agent0) / hours),
        "device_bytes_per_hour": round((disk1 - disk0) * SECTOR / hours),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=150.0, help="seconds before measuring")
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kru-idle-", dir=args.dir) as base:
        result = measure(Path(base), args.minutes, args.settle)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
