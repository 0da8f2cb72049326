"""What every scenario shares: the run context, targets, and "not available" results."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .profiles import PROFILES, Confinement, Profile
from .server import KruServer, group_memory
from .sitedata import Site

log = logging.getLogger(__name__)


class NotAvailable(Exception):
    """The feature a scenario measures is not in this checkout yet; the message says what."""


@dataclass(frozen=True)
class Target:
    """One row of the results table: ``figure`` must be ``op`` ``value`` (``<=`` or ``>=``).

    With ``op`` empty the row reports the figure without a target.
    """

    label: str
    figure: str
    op: str
    value: float
    unit: str

    def met(self, measured: float | None) -> bool | None:
        if measured is None or not self.op:  # no op: a figure reported, not a target
            return None
        return measured <= self.value if self.op == "<=" else measured >= self.value


@dataclass(frozen=True)
class Scenario:
    """A measurement; ``targets`` hold on the default profile, ``profile_targets`` on others.

    A profile not named in ``profile_targets`` has the default targets.
    """

    name: str
    title: str
    run: Callable[[Bench], dict[str, Any]]
    targets: tuple[Target, ...]
    profile_targets: dict[str, tuple[Target, ...]] = field(default_factory=dict)

    def targets_for(self, profile: str) -> tuple[Target, ...]:
        return self.profile_targets.get(profile, self.targets)


@dataclass
class Durations:
    """How long the load phases run: long enough to be steady, short in --quick mode."""

    load_s: float
    light_s: float

    @classmethod
    def for_mode(cls, quick: bool) -> Durations:
        return cls(load_s=2, light_s=1) if quick else cls(load_s=20, light_s=8)


@dataclass
class Bench:
    """The state a run shares between scenarios: the site, its server, signed-in sessions."""

    site: Site
    server: KruServer
    workdir: Path
    quick: bool
    durations: Durations
    sessions: list[tuple[str, str]] = field(default_factory=list)
    instructor_session: tuple[str, str] | None = None
    notes: dict[str, str] = field(default_factory=dict)
    profile: Profile = PROFILES["default"]
    confinement: Confinement | None = None
    front: Any = None  # the TLS front (bench.front.Front) once started
    measured: dict[str, dict[str, Any]] = field(default_factory=dict)  # figures by scenario

    @property
    def url(self) -> str:
        return self.server.url

    def memory(self) -> dict[str, int]:
        """Return the memory of the server and, when running, its TLS front (see group_memory).

        ``server`` and ``front`` are the two parts' summed PSS, ``VmRSS`` their sum.
        """
        memory = self.server.memory()
        front = 0
        if self.front is not None:
            front = sum(group_memory(pid)["VmRSS"] for pid in self.front.pids()[:1])
        return {
            **memory,
            "server": memory["VmRSS"],
            "front": front,
            "VmRSS": memory["VmRSS"] + front,
        }
