"""One person's learner records on several sites (issue 21; no Flask).

A student teacher who moves from a college to a CTC has an account on each site, and so a
record on central per site (``people``, keyed by device and the site's random uid). Records
are one learner when:

* their sites sent the same national teacher id (the class list's ``national_id`` column,
  carried by sync protocol 1.4), or
* a ministry admin linked them by hand (``link``);

unless an admin unlinked the pair (``unlink``), which also overrides a matching national
teacher id (a typing mistake on a class list must not merge two people). Links are
transitive: the learner is every record reachable through them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edge_server.base.errors import N_, NotFound, ValidationError

from .models import Device, LearnerLink, Person

MAX_RECORDS = 50  # one person on more sites than this is a data error, not a career


class UnknownRecord(NotFound):
    code = "learner_not_found"


@dataclass(frozen=True)
class Record:
    """A learner's record on one site."""

    device_pk: int
    device_id: str
    site: str
    province: str
    last_seen_at: str | None
    uid: str
    username: str
    display_name: str
    national_id: str
    linked_by: str  # "", "national_id" or "admin": how it joined the learner's other records

    @property
    def key(self) -> tuple[int, str]:
        return (self.device_pk, self.uid)


def _dev(person: Person) -> int:
    """Return the row id of ``person``'s device without loading the device."""
    return int(person.__data__["device"])


def _pair(a: tuple[int, str], b: tuple[int, str]) -> tuple[tuple[int, str], tuple[int, str]]:
    return (a, b) if a <= b else (b, a)


def find(device_id: str, uid: str) -> Person:
    """Return the record of learner ``uid`` on site ``device_id``.

    Raises:
        UnknownRecord: no such site or learner.
    """
    person = (
        Person.select()
        .join(Device, on=(Person.device == Device.id))
        .where((Device.device_id == device_id) & (Person.uid == uid))
        .first()
    )
    if person is None:
        raise UnknownRecord(
            N_("No learner %(uid)s on site %(device)s"), uid=uid[:64], device=device_id[:64]
        )
    return person


def _links(keys: set[tuple[int, str]]) -> list[LearnerLink]:
    rows: list[LearnerLink] = []
    for dev, uid in keys:
        rows += list(
            LearnerLink.select().where(
                ((LearnerLink.device_a == dev) & (LearnerLink.uid_a == uid))
                | ((LearnerLink.device_b == dev) & (LearnerLink.uid_b == uid))
            )
        )
    return rows


def records(person: Person) -> list[Record]:
    """Return every record of the learner ``person`` is a record of, ``person``'s first."""
    start = (_dev(person), person.uid)
    how: dict[tuple[int, str], str] = {start: ""}
    found: dict[tuple[int, str], Person] = {start: person}
    todo = [person]
    # A record unlinked from ``person`` never joins its learner, even through a third record.
    apart_from_start = {
        _pair((r.device_a, r.uid_a), (r.device_b, r.uid_b)) for r in _links({start}) if not r.linked
    }
    while todo and len(found) < MAX_RECORDS:
        current = todo.pop()
        key = (_dev(current), current.uid)
        links = _links({key})
        apart = apart_from_start | {
            _pair((r.device_a, r.uid_a), (r.device_b, r.uid_b)) for r in links if not r.linked
        }
        near: list[tuple[Person, str]] = []
        if current.national_id:
            near += [
                (p, "national_id")
                for p in Person.select().where(Person.national_id == current.national_id)
            ]
        for r in links:
            if r.linked:
                mine = (r.device_a, r.uid_a) == key
                other = (r.device_b, r.uid_b) if mine else (r.device_a, r.uid_a)
                p = Person.get_or_none((Person.device == other[0]) & (Person.uid == other[1]))
                if p is not None:
                    near.append((p, "admin"))
        for p, why in near:
            other = (_dev(p), p.uid)
            if other in found or _pair(key, other) in apart or _pair(start, other) in apart:
                continue
            found[other], how[other] = p, why
            todo.append(p)
    devices = {d.id: d for d in Device.select().where(Device.id.in_([k[0] for k in found]))}
    out = []
    for key, p in found.items():
        d = devices[key[0]]
        out.append(
            Record(
                d.id,
                d.device_id,
                d.name,
                d.province or "",
                d.last_seen_at,
                p.uid,
                p.username,
                p.display_name,
                p.national_id or "",
                how[key],
            )
        )
    first = out[0]
    return [first, *sorted(out[1:], key=lambda r: (r.last_seen_at or "", r.site))]


def _set(a: Person, b: Person, linked: bool, by: str) -> None:
    if (_dev(a), a.uid) == (_dev(b), b.uid):
        raise ValidationError(N_("A record cannot be linked to itself"), code="same_record")
    (da, ua), (db_, ub) = _pair((_dev(a), a.uid), (_dev(b), b.uid))
    LearnerLink.insert(
        device_a=da,
        uid_a=ua,
        device_b=db_,
        uid_b=ub,
        linked=linked,
        by_user=by[:64],
        at_ms=int(time.time() * 1000),
    ).on_conflict(
        conflict_target=[
            LearnerLink.device_a,
            LearnerLink.uid_a,
            LearnerLink.device_b,
            LearnerLink.uid_b,
        ],
        preserve=[LearnerLink.linked, LearnerLink.by_user, LearnerLink.at_ms],
    ).execute()


def link(a: Person, b: Person, by: str) -> None:
    """Make records ``a`` and ``b`` one learner's (by admin ``by``).

    Raises:
        ValidationError: ``a`` and ``b`` are the same record.
    """
    _set(a, b, True, by)


def unlink(a: Person, b: Person, by: str) -> None:
    """Keep records ``a`` and ``b`` apart, even when their national teacher ids match.

    Raises:
        ValidationError: ``a`` and ``b`` are the same record.
    """
    _set(a, b, False, by)
