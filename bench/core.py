"""What every scenario shares: the run context, targets, and "not available" results."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .server import KruServer
from .sitedata import Site

log = logging.getLogger(__name__)


class NotAvailable(Exception):
    """The feature a scenario measures is not in this checkout yet; the message says what."""


@dataclass(frozen=True)
class Target:
    """One row of the results table: ``figure`` must be ``op`` ``value`` (``<=`` or ``>=``)."""

    label: str
    figure: str
    op: str
    value: float
    unit: str

    def met(self, measured: float | None) -> bool | None:
        if measured is None:
            return None
        return measured <= self.value if self.op == "<=" else measured >= self.value


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[Bench], dict[str, Any]]
    targets: tuple[Target, ...]


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

    @property
    def url(self) -> str:
        return self.server.url
