"""Participation in the sites' discussion boards (issue 16 item 4), from ``posted`` events.

A site sends one event per post, without its text unless the pack marks the course's
discussion for review; central counts threads, replies and people per site, cohort and course.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .db import database
from .models import CentralEvent, Device

PREFIX = "urn:kru:discussion:"


@dataclass
class Participation:
    site: str
    province: str
    cohort: str
    course: str
    threads: int = 0
    replies: int = 0
    people: set[str] = field(default_factory=set)
    reviewed_texts: int = 0


def participation() -> list[Participation]:
    """Return one line per site, cohort and course with posts, busiest first."""
    names: dict[tuple[int, str], str] = {
        (row[0], row[1]): row[2]
        for row in database.execute_sql("SELECT device_id, uid, name FROM site_cohorts")
    }
    devices = {d.id: d for d in Device.select(Device.id, Device.name, Device.province)}
    lines: dict[tuple[int, str, str], Participation] = {}
    query = (
        CentralEvent.select(
            CentralEvent.device, CentralEvent.user_uid, CentralEvent.object, CentralEvent.context
        )
        .where((CentralEvent.verb == "posted") & CentralEvent.object.startswith(PREFIX))
        .tuples()
    )
    for device_id, user_uid, obj, context in query.iterator():
        course, _, cohort_uid = obj[len(PREFIX) :].rpartition(":")
        key = (device_id, cohort_uid, course)
        line = lines.get(key)
        if line is None:
            device = devices.get(device_id)
            line = lines[key] = Participation(
                device.name if device else str(device_id),
                device.province if device else "",
                names.get((device_id, cohort_uid), cohort_uid),
                course,
            )
        ctx = json.loads(context or "{}")
        if ctx.get("reply"):
            line.replies += 1
        else:
            line.threads += 1
        if "text" in ctx:
            line.reviewed_texts += 1
        line.people.add(user_uid)
    return sorted(lines.values(), key=lambda p: (-(p.threads + p.replies), p.site, p.cohort))
