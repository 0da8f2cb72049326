"""Profiles: run the server as a Raspberry Pi would, on this machine (``--profile``).

A profile names the board (its cores and memory, from which Kru picks its own settings:
``auto_workers``) and how this machine is narrowed to approximate the board's CPU:

- ``default``: this machine as it is, server settings picked for it.
- ``pi4``: the settings Kru picks on a 4-core 4 GB Pi 4; every server process (and the
  TLS front) pinned to one core, the load generator and the bench on the others. A Pi 4's
  four Cortex-A72 cores are together roughly one of these x86 cores.
- ``pi3``: the settings for a 4-core 1 GB Pi 3B+, pinned likewise and capped at half a
  core and 700 MB (what the OS, the hotspot and the sync agent leave) with a cgroup.

The cap uses the kernel's cgroups: cgroup v2 when ``/sys/fs/cgroup`` is the unified
hierarchy, else the v1 ``cpu`` and ``memory`` hierarchies. The new groups are made under the
bench's own groups, so any limit the machine already sets on the bench still applies. When
cgroups cannot be written (no root, read-only), the fallback is said in the results: half
a core by a busy process on the server's core (the scheduler shares a core equally between
two busy processes) and the 700 MB checked against the measured peak instead of enforced.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MB = 1024 * 1024
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Profile:
    """A board to approximate: what Kru is told about the machine, and how it is confined."""

    name: str
    title: str
    cores: int | None = None  # the board's; None: this machine's
    memory_mb: int | None = None
    pin: bool = False  # server on one core, load on the others
    cpu_quota: float | None = None  # cores of CPU time, by cgroup
    memory_limit_mb: int | None = None
    tls_front: bool = False  # nginx in front, counted in the memory figures
    scenarios: tuple[str, ...] | None = None  # None: every scenario


# What a Pi runs in a class: the learner pages, sign-in and events, against a static file.
PI_SCENARIOS = (
    "startup",
    "login_storm",
    "learner_home",
    "course_page",
    "lesson_page",
    "static_file",
    "events",
    "https_page",
    "shutdown",
)

PROFILES: dict[str, Profile] = {
    "default": Profile("default", "this machine, settings picked for it"),
    "pi4": Profile(
        "pi4",
        "Raspberry Pi 4 (4 cores, 4 GB): settings for that board, one core of this machine",
        cores=4,
        memory_mb=4096,
        pin=True,
        tls_front=True,
        scenarios=PI_SCENARIOS,
    ),
    "pi3": Profile(
        "pi3",
        "Raspberry Pi 3B+ (4 cores, 1 GB): settings for that board, half a core and 700 MB",
        cores=4,
        memory_mb=1024,
        pin=True,
        cpu_quota=0.5,
        memory_limit_mb=700,
        tls_front=True,
        scenarios=PI_SCENARIOS,
    ),
}


def server_env(profile: Profile) -> dict[str, str]:
    """Return the ``KRU_*`` settings Kru picks on the profile's board (empty: this machine's).

    The same function ``kru serve`` calls for ``workers = 0``, given the board's cores and
    memory instead of this machine's.
    """
    if profile.cores is None:
        return {}
    from edge_server.base.server import auto_workers

    return {"KRU_WORKERS": str(auto_workers(profile.cores, profile.memory_mb))}


def split_cpus(available: set[int]) -> tuple[set[int], set[int]]:
    """Return (server cpus, load cpus): the server gets one core, the load the others.

    Raises:
        RuntimeError: fewer than two cores to split.
    """
    cpus = sorted(available)
    if len(cpus) < 2:
        raise RuntimeError("a profile pins the server and the load to different cores: needs 2")
    return {cpus[0]}, set(cpus[1:])


def _own_cgroup(controller: str) -> tuple[Path, int] | None:
    """Return (the directory of this process's cgroup for ``controller``, cgroup version)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    unified = (CGROUP_ROOT / "cgroup.controllers").exists()
    for line in lines:
        _hid, controllers, path = line.split(":", 2)
        if unified and controllers == "":
            return CGROUP_ROOT / path.lstrip("/"), 2
        if not unified and controller in controllers.split(","):
            for mount in (CGROUP_ROOT / controller, CGROUP_ROOT / controllers):
                if mount.is_dir():
                    return mount / path.lstrip("/"), 1
    return None


class Confinement:
    """The cores, cgroups or stand-ins that confine the server to a profile's board."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.server_cpus: set[int] | None = None
        self.load_cpus: set[int] | None = None
        self.groups: list[Path] = []  # cgroup directories made here, the server goes in each
        self.memory_group: Path | None = None
        self.cgroup_version: int | None = None
        self.hog: subprocess.Popen | None = None
        self.method: list[str] = []

    def setup(self) -> Confinement:
        """Pin this (the load's) process and make the cgroups; say how in ``method``."""
        profile = self.profile
        if profile.pin:
            self.server_cpus, self.load_cpus = split_cpus(os.sched_getaffinity(0))
            os.sched_setaffinity(0, self.load_cpus)  # wrk and the bench's clients inherit it
            self.method.append(
                f"server on CPU {sorted(self.server_cpus)}, load on CPUs {sorted(self.load_cpus)}"
            )
        if profile.cpu_quota or profile.memory_limit_mb:
            try:
                self._make_cgroups()
            except OSError as exc:
                self._undo_cgroups()
                self._fallback(exc)
        return self

    def _make_cgroups(self) -> None:
        name = f"kru-bench-{os.getpid()}"
        profile = self.profile
        if profile.cpu_quota:
            found = _own_cgroup("cpu")
            if found is None:
                raise OSError("no cpu cgroup")
            parent, self.cgroup_version = found
            group = parent / name
            group.mkdir()
            self.groups.append(group)
            period = 100_000
            quota = int(profile.cpu_quota * period)
            if self.cgroup_version == 2:
                (group / "cpu.max").write_text(f"{quota} {period}\n")
            else:
                (group / "cpu.cfs_period_us").write_text(f"{period}\n")
                (group / "cpu.cfs_quota_us").write_text(f"{quota}\n")
            self.method.append(f"cgroup v{self.cgroup_version} CPU quota {profile.cpu_quota} core")
        if profile.memory_limit_mb:
            found = _own_cgroup("memory")
            if found is None:
                raise OSError("no memory cgroup")
            parent, self.cgroup_version = found
            group = parent / name
            if group not in self.groups:
                group.mkdir(exist_ok=True)
                self.groups.append(group)
            limit = profile.memory_limit_mb * MB
            if self.cgroup_version == 2:
                (group / "memory.max").write_text(f"{limit}\n")
                if (group / "memory.swap.max").exists():
                    (group / "memory.swap.max").write_text("0\n")
            else:
                (group / "memory.limit_in_bytes").write_text(f"{limit}\n")
            self.memory_group = group
            self.method.append(
                f"cgroup v{self.cgroup_version} memory limit {profile.memory_limit_mb} MB"
            )

    def _undo_cgroups(self) -> None:
        for group in reversed(self.groups):
            try:
                group.rmdir()
            except OSError:
                pass
        self.groups = []
        self.memory_group = None

    def _fallback(self, exc: OSError) -> None:
        """No writable cgroups: a busy process halves the server's core; memory is checked."""
        log.warning("cannot make cgroups (%s); using the documented fallback", exc)
        profile = self.profile
        if profile.cpu_quota and self.server_cpus:
            self.hog = subprocess.Popen(
                [sys.executable, "-c", "while True: pass"],
                preexec_fn=lambda: os.sched_setaffinity(0, self.server_cpus or set()),
            )
            self.method.append(
                f"no cgroups ({exc}): half a core by a busy process sharing the server's core"
            )
        if profile.memory_limit_mb:
            self.method.append(
                f"memory limit {profile.memory_limit_mb} MB not enforced: checked against the peak"
            )

    def enter(self) -> None:
        """Put the calling process in the server's cores and cgroups (``preexec_fn``)."""
        if self.server_cpus:
            os.sched_setaffinity(0, self.server_cpus)
        for group in self.groups:
            (group / "cgroup.procs").write_text(f"{os.getpid()}\n")

    def adopt(self, pids: list[int]) -> None:
        """Put running processes (the TLS front) in the server's cores and cgroups."""
        for pid in pids:
            if self.server_cpus:
                os.sched_setaffinity(pid, self.server_cpus)
            for group in self.groups:
                (group / "cgroup.procs").write_text(f"{pid}\n")

    def oom_kills(self, peak_bytes: int = 0) -> int | None:
        """Return how many processes the memory cgroup's limit killed (None: no limit).

        Without a cgroup (the fallback) the limit is checked against ``peak_bytes``: 1 when
        the peak passed it, as the kernel would then have killed one.
        """
        group = self.memory_group
        if group is None:
            limit = self.profile.memory_limit_mb
            return None if not limit else int(peak_bytes > limit * MB)
        name = "memory.events" if self.cgroup_version == 2 else "memory.oom_control"
        try:
            for line in (group / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            return None
        return 0

    def close(self) -> None:
        """Stop the stand-in and remove the cgroups (once the processes in them are gone)."""
        if self.hog is not None:
            self.hog.kill()
            self.hog.wait(timeout=10)
            self.hog = None
        self._undo_cgroups()
