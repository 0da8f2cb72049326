"""Competency profiles by province and site (issue 16 item 6), from the sites' decisions.

A site decides each learner's level of each competency by its rules and logs every change as
an ``assessed`` event (object ``urn:kru:competency:<code>``, ``result.level``, the names in
``context``). Central re-derives nothing: the latest decision per site, learner and competency
(by the site's sequence) is the learner's level, and this module counts learners per level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .models import CentralEvent, Device

VERB = "assessed"
PREFIX = "urn:kru:competency:"
LEVELS = (0, 1, 2, 3)


@dataclass
class Competency:
    code: str
    title: dict[str, str]
    domain: str
    domain_title: dict[str, str]
    framework: str
    sample: bool


@dataclass
class Counts:
    """Learners of a site (or a province) at each level of one competency."""

    levels: list[int] = field(default_factory=lambda: [0] * len(LEVELS))

    @property
    def learners(self) -> int:
        return sum(self.levels)

    @property
    def developing_or_above(self) -> float | None:
        """Share of the learners at level 2 or 3 (None with no learner)."""
        return round(sum(self.levels[2:]) / self.learners, 4) if self.learners else None


@dataclass
class SiteLine:
    site: str
    device: str
    province: str
    learners: int
    cells: dict[str, Counts]  # code -> counts


@dataclass
class Report:
    competencies: list[Competency]  # the columns, in code order
    provinces: list[tuple[str, SiteLine, list[SiteLine]]]  # (name, its total, its sites)

    def json(self) -> dict[str, Any]:
        def line(x: SiteLine) -> dict[str, Any]:
            return {
                "site": x.site,
                "device": x.device,
                "province": x.province,
                "learners": x.learners,
                "competencies": {
                    code: {"levels": c.levels, "learners": c.learners}
                    for code, c in sorted(x.cells.items())
                },
            }

        return {
            "levels": list(LEVELS),
            "competencies": [c.__dict__ for c in self.competencies],
            "provinces": [
                {"province": name, "total": line(total), "sites": [line(s) for s in sites]}
                for name, total, sites in self.provinces
            ],
        }


def _code_key(code: str) -> tuple:
    head, _, rest = code.partition(".")
    return (head, *(int(p) if p.isdigit() else 0 for p in rest.split(".")))


def report() -> Report:
    """Return the learners per level of each competency, per site and per province."""
    latest: dict[tuple[int, str, str], tuple[tuple[int, int], str | None, str | None]] = {}
    query = (
        CentralEvent.select(
            CentralEvent.device,
            CentralEvent.user_uid,
            CentralEvent.object,
            CentralEvent.generation,
            CentralEvent.seq,
            CentralEvent.result,
            CentralEvent.context,
        )
        .where((CentralEvent.verb == VERB) & CentralEvent.object.startswith(PREFIX))
        .tuples()
    )
    for device_id, user_uid, obj, generation, seq, result, context in query.iterator():
        key = (device_id, user_uid, obj[len(PREFIX) :])
        kept = latest.get(key)
        # A device's events in order: by stream (a replaced Pi's come first), then number.
        if kept is None or (generation, seq) > kept[0]:
            latest[key] = ((generation, seq), result, context)
    devices = {
        d.id: d for d in Device.select(Device.id, Device.device_id, Device.name, Device.province)
    }
    competencies: dict[str, Competency] = {}
    sites: dict[int, SiteLine] = {}
    people: dict[int, set[str]] = {}
    for (device_id, user_uid, code), (_seq, result, context) in latest.items():
        level = json.loads(result or "{}").get("level")
        if type(level) is not int or level not in LEVELS:
            continue
        ctx = json.loads(context or "{}")
        if code not in competencies:
            framework = ctx.get("framework") or {}
            domain = ctx.get("domain") or {}
            competencies[code] = Competency(
                code,
                dict(ctx.get("title") or {}),
                str(domain.get("code") or ""),
                dict(domain.get("title") or {}),
                str(framework.get("code") or ""),
                bool(framework.get("sample")),
            )
        device = devices.get(device_id)
        line = sites.get(device_id)
        if line is None:
            line = sites[device_id] = SiteLine(
                device.name if device else str(device_id),
                device.device_id if device else "",
                (device.province if device else "") or "",
                0,
                {},
            )
        line.cells.setdefault(code, Counts()).levels[level] += 1
        people.setdefault(device_id, set()).add(user_uid)
    for device_id, line in sites.items():
        line.learners = len(people[device_id])
    by_province: dict[str, list[SiteLine]] = {}
    for line in sorted(sites.values(), key=lambda s: (s.province, s.site)):
        by_province.setdefault(line.province, []).append(line)
    provinces = []
    for name, lines in sorted(by_province.items()):
        total = SiteLine("", "", name, sum(x.learners for x in lines), {})
        for x in lines:
            for code, counts in x.cells.items():
                cell = total.cells.setdefault(code, Counts())
                cell.levels = [a + b for a, b in zip(cell.levels, counts.levels, strict=True)]
        provinces.append((name, total, lines))
    return Report(sorted(competencies.values(), key=lambda c: _code_key(c.code)), provinces)
