"""The data of the drill-down pages: province → site → cohort → learner → transcript (issue 21).

No Flask: each function returns plain data that the page renders and the JSON API returns.
Every number comes from ``figures`` (one learner's, or ``figures.summarise`` of a group's);
names appear only when ``names`` is true (the setting ``central.xapi_names``, as in xAPI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_server.base.errors import N_, NotFound

from . import figures, learners
from .figures import GroupFigures, LearnerFigures
from .models import Device, Person, SiteCohort, SiteCohortMember


class UnknownProvince(NotFound):
    code = "province_not_found"


@dataclass
class SiteLine:
    device_id: str
    name: str
    province: str
    last_seen_at: str | None  # "data as of": the site's last sync
    figures: GroupFigures

    def json(self) -> dict[str, Any]:
        return {
            "device": self.device_id,
            "name": self.name,
            "province": self.province,
            "data_as_of": self.last_seen_at,
            "figures": self.figures.json(),
        }


@dataclass
class Province:
    name: str
    total: GroupFigures
    sites: list[SiteLine]

    def json(self) -> dict[str, Any]:
        return {
            "province": self.name,
            "figures": self.total.json(),
            "sites": [s.json() for s in self.sites],
        }


def learner_label(person: Person | None, uid: str, names: bool) -> str:
    """Return how a learner is shown: their name when ``names``, else their pseudonymous id."""
    if names and person is not None and person.display_name:
        return str(person.display_name)
    return uid


def provinces() -> list[str]:
    """Return the provinces of the registered sites, by name."""
    return sorted({d.province or "" for d in Device.select(Device.province)})


def province(name: str) -> Province:
    """Return a province's figures and each of its sites'.

    Raises:
        UnknownProvince: no site is registered in ``name``.
    """
    devices = list(
        Device.select().where(Device.province == name).order_by(Device.name, Device.device_id)
    )
    if not devices:
        raise UnknownProvince(N_("No site is registered in province %(name)s"), name=name[:100])
    per_learner = figures.learner_figures([d.id for d in devices], learner_keys(devices))
    by_site: dict[int, list[LearnerFigures]] = {d.id: [] for d in devices}
    for f in per_learner.values():
        by_site[f.device_pk].append(f)
    lines = [
        SiteLine(d.device_id, d.name, d.province, d.last_seen_at, figures.summarise(by_site[d.id]))
        for d in devices
    ]
    return Province(name, figures.summarise(per_learner.values()), lines)


def learner_keys(devices: list[Device]) -> set[tuple[int, str]]:
    """Return (device, uid) of every learner the sites sent: accounts and cohort members."""
    pks = [d.id for d in devices]
    query = Person.select(Person.device, Person.uid).where(
        Person.device.in_(pks) & (Person.role == "learner")
    )
    keys = {(int(dev), str(uid)) for dev, uid in query.tuples().iterator()}
    # A cohort's member list names every learner, also those who have done nothing yet (an
    # account travels with its first event).
    members = (
        SiteCohortMember.select(SiteCohort.device, SiteCohortMember.person_uid)
        .join(SiteCohort, on=(SiteCohortMember.cohort == SiteCohort.id))
        .where(SiteCohort.device.in_(pks))
    )
    keys |= {(int(dev), str(uid)) for dev, uid in members.tuples().iterator()}
    return keys


@dataclass
class CohortLine:
    uid: str
    name: str
    members: int
    figures: GroupFigures


def site_cohorts(device: Device) -> tuple[GroupFigures, list[CohortLine]]:
    """Return a site's figures and each of its cohorts'."""
    per_learner = figures.learner_figures([device.id], learner_keys([device]))
    lines = []
    for cohort in (
        SiteCohort.select().where(SiteCohort.device == device.id).order_by(SiteCohort.name)
    ):
        members = _members(cohort)
        group = [
            per_learner.get((device.id, uid)) or LearnerFigures(device.id, uid) for uid in members
        ]
        lines.append(CohortLine(cohort.uid, cohort.name, len(members), figures.summarise(group)))
    return figures.summarise(per_learner.values()), lines


def _members(cohort: SiteCohort) -> list[str]:
    return [
        m.person_uid
        for m in SiteCohortMember.select(SiteCohortMember.person_uid)
        .where(SiteCohortMember.cohort == cohort.id)
        .order_by(SiteCohortMember.person_uid)
    ]


@dataclass
class LearnerLine:
    uid: str
    label: str
    figures: LearnerFigures


@dataclass
class Cohort:
    device: Device
    cohort: SiteCohort
    total: GroupFigures
    learners: list[LearnerLine]
    courses: list[tuple[str, str, str]] = field(default_factory=list)  # key, km, en


def cohort(device: Device, group: SiteCohort, names: bool) -> Cohort:
    """Return a cohort's figures and each member's (members with no activity too)."""
    members = _members(group)
    per_learner = figures.learner_figures([device.id], {(device.id, uid) for uid in members})
    people = {
        p.uid: p
        for p in Person.select().where((Person.device == device.id) & Person.uid.in_(members))
    }
    lines = sorted(
        (
            LearnerLine(
                uid, learner_label(people.get(uid), uid, names), per_learner[(device.id, uid)]
            )
            for uid in members
        ),
        key=lambda line: line.label,
    )
    titles: dict[str, tuple[str, str]] = {}
    for line in lines:
        for c in line.figures.courses.values():
            titles.setdefault(c.course_key, (c.title_km, c.title_en))
    courses = [(key, *titles[key]) for key in sorted(titles)]
    return Cohort(device, group, figures.summarise(per_learner.values()), lines, courses)


@dataclass
class Transcript:
    """A learner's records on every site they are linked across, each with its figures."""

    records: list[learners.Record]
    figures: dict[tuple[int, str], LearnerFigures]
    total: GroupFigures  # ``summarise`` of the records: one learner, several sites
    names: bool

    @property
    def label(self) -> str:
        first = self.records[0]
        return first.display_name if self.names and first.display_name else first.uid

    def json(self) -> dict[str, Any]:
        def record(r: learners.Record) -> dict[str, Any]:
            f = self.figures[r.key]
            out: dict[str, Any] = {
                "site": {"device": r.device_id, "name": r.site, "province": r.province},
                "data_as_of": r.last_seen_at,
                "learner": r.uid,
                "linked_by": r.linked_by,
                "courses": [
                    {
                        "course": c.course_key,
                        "title": {"km": c.title_km, "en": c.title_en},
                        "done": c.done,
                        "counted": c.counted,
                        "completion": c.share,
                        "average_score": c.average_score,
                        "time_s": c.time_s,
                        "attendance": {**c.attendance.__dict__, "share": c.attendance.share},
                    }
                    for c in f.courses.values()
                ],
                "time_s": f.time_s,
                "average_score": f.average_score,
                "attendance": {**f.attendance.__dict__, "share": f.attendance.share},
                "tasks": {
                    "submissions": f.submissions,
                    "accepted": f.accepted,
                    "passed": f.passed_tasks,
                    "returned": f.returned,
                },
                "observations": {"count": f.observations, "share": f.observation_share},
                "competencies": dict(sorted(f.levels.items())),
                "certificates": f.certificates,
            }
            if self.names:
                out["name"] = r.display_name
                out["national_id"] = r.national_id
            return out

        return {
            "learner": self.records[0].uid,
            "figures": self.total.json(),
            "records": [record(r) for r in self.records],
        }


def transcript(person: Person, names: bool) -> Transcript:
    """Return the transcript of the learner ``person`` is a record of, across linked sites."""
    records = learners.records(person)
    keys = {r.key for r in records}
    per_learner = figures.learner_figures(sorted({r.device_pk for r in records}), keys)
    return Transcript(records, per_learner, figures.summarise(per_learner[k] for k in keys), names)
