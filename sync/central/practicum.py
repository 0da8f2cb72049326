"""What central shows of teacher-education work (issue 15): tasks handed in and reviewed,
and practicum observations with their points per domain of the teacher standards.

The sites decide (a review's decision and score, an observation's levels); central counts
what their events say and applies no rubric of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sync.protocol import COMPETENCY_DOMAINS, CRITERIA_EXTENSION, competency_domain

from .db import database
from .models import Device

VERBS = ("submitted", "reviewed", "observed")


@dataclass
class SiteWork:
    """One site's tasks and observations."""

    device_id: str
    name: str
    submissions: int = 0
    accepted: int = 0
    returned: int = 0
    passed: int = 0
    observations: int = 0
    observed: set[str] = field(default_factory=set)  # student teachers' uids
    points: dict[str, list[float]] = field(
        default_factory=lambda: {d: [0.0, 0.0] for d in COMPETENCY_DOMAINS}
    )

    @property
    def domains(self) -> dict[str, float | None]:
        """Return each domain's observed points over the most points, 0..1 (None: not seen)."""
        return {d: (round(p / m, 4) if m else None) for d, (p, m) in self.points.items()}


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def by_site() -> list[SiteWork]:
    """Return the tasks and observations of every site that sent some, by site name."""
    names = {
        d.id: (d.device_id, d.name) for d in Device.select(Device.id, Device.device_id, Device.name)
    }
    marks = ", ".join(["?"] * len(VERBS))
    query = (
        f"SELECT device_id, user_uid, verb, result FROM central_events WHERE verb IN ({marks})"  # noqa: S608 - placeholders
    ).replace("?", database.param)
    sites: dict[int, SiteWork] = {}
    for device, user_uid, verb, result_text in database.execute_sql(query, VERBS):
        if device not in names:
            continue
        work = sites.setdefault(device, SiteWork(*names[device]))
        result = _json(result_text)
        if verb == "submitted":
            work.submissions += 1
        elif verb == "reviewed":
            decision = result.get("decision")
            if decision == "accepted":
                work.accepted += 1
                work.passed += result.get("success") is True
            elif decision == "returned":
                work.returned += 1
        else:
            work.observations += 1
            work.observed.add(user_uid)
            criteria = (result.get("extensions") or {}).get(CRITERIA_EXTENSION) or []
            for c in criteria if isinstance(criteria, list) else []:
                domain = competency_domain(c.get("competency")) if isinstance(c, dict) else None
                level, most = (c.get("level"), c.get("max")) if domain else (None, None)
                if isinstance(level, int | float) and isinstance(most, int | float) and most > 0:
                    work.points[domain][0] += level  # type: ignore[index]
                    work.points[domain][1] += most  # type: ignore[index]
    return sorted(sites.values(), key=lambda w: w.name)
