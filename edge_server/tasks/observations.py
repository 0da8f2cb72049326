"""Practicum observations: a mentor fills in a pack's observation form while watching a
student teacher teach; the student teacher reads it and adds a reflection (issue 15).

An observation is an ``observed`` event in the student teacher's log (like a review), made
through the same ingest as phones' events, so it syncs to central like any event. Its id is
made on the mentor's phone when the form is saved: a form kept in the phone's storage while
out of the Wi-Fi and sent again when back is stored once. The result carries each criterion's
level and competency (``rubric.CRITERIA_EXTENSION``), which the competency profiles read.

Who may do what: a mentor observes the student teachers an instructor or admin assigned to
them; an instructor those of the cohorts they teach; an admin anyone. A student teacher sees
their own observations and reflects on each once.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from content_packs.models import Item
from sync.protocol import COMPETENCY_DOMAINS, competency_domain

from .. import accounts
from ..accounts.models import Cohort, User
from ..base.errors import N_, NotFound, PermissionDenied, ValidationError
from ..learning import events as learning_events
from ..learning.models import Event
from . import rubric as rubrics

OBSERVERS = ("mentor", "instructor", "admin")
MAX_NOTE = 1000
MAX_COMMENT = 5000
MAX_PLACE = 200
MAX_REFLECTION = 5000
# A reflection's id derives from its observation: one reflection per observation.
REFLECTION_NAMESPACE = uuid.UUID("9a3c1e55-0d4b-4f0e-8f7a-6b7275000015")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DOMAINS = COMPETENCY_DOMAINS


class NotAForm(NotFound):
    code = "not_an_observation_form"


class ObservationNotFound(NotFound):
    code = "observation_not_found"


@dataclass(frozen=True)
class Form:
    """An observation form: a rubric (its criteria may name competencies) and instructions."""

    key: str
    title: dict[str, str]
    instructions_html: dict[str, str]
    criteria: tuple[rubrics.Criterion, ...]
    pass_mark: float = 0.0  # observations pass nothing; rubric.score wants one

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.criteria)


@dataclass
class Observation:
    """One observation as the pages and the API show it."""

    id: str
    learner_id: int
    form: str
    observer: str
    school: str
    class_name: str
    date: str
    comment: str
    score: float | None
    criteria: list[dict[str, Any]]  # CRITERIA_EXTENSION entries with "note"
    recorded_at: str
    reflection: str | None = None
    reflected_at: str | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "form": self.form,
            "observer": self.observer,
            "school": self.school,
            "class": self.class_name,
            "date": self.date,
            "comment": self.comment,
            "score": self.score,
            "criteria": self.criteria,
            "recorded_at": self.recorded_at,
            "reflection": self.reflection,
        }


def _form_from_row(row: Item) -> Form:
    data = json.loads(row.data or "{}").get("observation") or {}
    return Form(
        row.key,
        {"km": row.title_km, "en": row.title_en},
        dict(data.get("instructions_html") or {}),
        rubrics.criteria_from_data(data.get("rubric")),
    )


def forms() -> list[Form]:
    """Return the observation forms of the installed packs."""
    rows = Item.select().where(Item.type == "observation").order_by(Item.key)
    return [_form_from_row(row) for row in rows]


def form_of(key: str) -> Form:
    """Raises: NotAForm when no installed item ``key`` is an observation form."""
    row = Item.get_or_none(Item.key == key)
    if row is None or row.type != "observation":
        raise NotAForm(N_("%(item)s is not an observation form"), item=key)
    return _form_from_row(row)


def observable(observer: User) -> list[User]:
    """Return the student teachers ``observer`` may observe, by name."""
    if observer.role == "mentor":
        return accounts.mentor_students(observer)
    if observer.role == "admin":
        return accounts.list_users("learner")
    if observer.role == "instructor":
        seen: dict[int, User] = {}
        for cohort in accounts.visible_cohorts(observer):
            for learner in accounts.cohort_learners(cohort):
                seen.setdefault(learner.id, learner)
        return sorted(seen.values(), key=lambda u: (u.display_name, u.username))
    return []


def student(observer: User, learner_id: int) -> User:
    """Return the student teacher ``observer`` may observe.

    Raises:
        PermissionDenied: a learner, or a student teacher not theirs to see.
    """
    if observer.role not in OBSERVERS:
        raise PermissionDenied(N_("Only mentors, instructors and admins observe lessons"))
    learner = User.get_or_none(User.id == learner_id)
    if (
        learner is None
        or learner.role != "learner"
        or not accounts.can_see_learner(observer, learner.id)
    ):
        raise PermissionDenied(
            N_("This student teacher is not assigned to you"), code="not_your_student"
        )
    return learner


def _text(body: dict[str, Any], name: str, most: int, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(N_("%(field)s must be text"), code="invalid_body", field=name)
    value = value.strip()
    if required and not value:
        raise ValidationError(
            N_("Fill in %(field)s"), code="missing_field", details={"field": name}, field=name
        )
    if len(value) > most:
        raise ValidationError(
            N_("%(field)s may have at most %(most)s characters"),
            code="too_long",
            details={"field": name},
            field=name,
            most=most,
        )
    return value


def _day(raw: Any) -> str:
    try:
        return date.fromisoformat(str(raw)).isoformat() if raw else ""
    except ValueError:
        pass
    raise ValidationError(
        N_("date must be a day written YYYY-MM-DD"), code="invalid_date", details={"field": "date"}
    )


def record(observer: User, body: Any) -> tuple[str, bool]:
    """Record an observation from a filled-in form; return its id and whether it is new.

    ``body``: ``{"id": uuid made on the phone, "learner": user id, "form": item key,
    "rubric": {criterion: level}, "notes": {criterion: text}, "comment", "school", "class",
    "date": "YYYY-MM-DD", "timestamp"?}``. Sent again with the same id, it changes nothing.

    Raises:
        ValidationError / rubric.InvalidRubric: a missing or bad field.
        PermissionDenied: not an observer of this student teacher.
        NotAForm: the form is not installed.
    """
    if not isinstance(body, dict):
        raise ValidationError(N_("Send the observation as a JSON object"), code="invalid_body")
    obs_id = str(body.get("id") or "").lower()
    if not _UUID.match(obs_id):
        raise ValidationError(N_("id must be a UUID made on the phone"), code="invalid_id")
    try:
        learner_id = int(body.get("learner"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(
            N_("Name the student teacher in learner"), code="invalid_body"
        ) from None
    learner = student(observer, learner_id)
    form = form_of(str(body.get("form") or ""))
    result = rubrics.score(form, body.get("rubric"))
    notes_in = body.get("notes") or {}
    if not isinstance(notes_in, dict):
        raise ValidationError(N_("notes must be an object of criterion: text"), code="invalid_body")
    known = {c.id for c in form.criteria}
    notes = {}
    for cid in known & set(map(str, notes_in)):
        text = _text({"note": notes_in.get(cid)}, "note", MAX_NOTE)
        if text:
            notes[cid] = text
    context = {
        "observer": observer.uid,
        "school": _text(body, "school", MAX_PLACE, required=True),
        "class": _text(body, "class", MAX_PLACE, required=True),
        "date": _day(body.get("date")),
        "notes": notes,
        "comment": _text(body, "comment", MAX_COMMENT),
    }
    if not context["date"]:
        raise ValidationError(
            N_("Fill in %(field)s"), code="missing_field", details={"field": "date"}, field="date"
        )
    stamp = body.get("timestamp")
    event = learning_events.CleanEvent(
        0,
        obs_id,
        "observed",
        form.key,
        {
            "score": result.score,
            "points": result.points,
            "max_points": result.max_points,
            "rubric": result.rubric,
            "extensions": result.extensions(),
        },
        context,
        stamp if isinstance(stamp, str) and len(stamp) <= 40 else None,
    )
    done = learning_events.ingest(learner, [event])
    return obs_id, done.accepted == 1


def _observation(row: Event) -> Observation:
    result = json.loads(row.result or "{}")
    context = json.loads(row.context or "{}")
    notes = context.get("notes") or {}
    criteria = [
        {**c, "note": notes.get(c.get("criterion"), "")}
        for c in (result.get("extensions") or {}).get(rubrics.CRITERIA_EXTENSION, [])
    ]
    observer = User.get_or_none(User.uid == context.get("observer"))
    return Observation(
        id=row.id,
        learner_id=row.user_id,  # type: ignore[attr-defined]  # peewee's column
        form=row.object,
        observer=(observer.display_name if observer else "?"),
        school=context.get("school", ""),
        class_name=context.get("class", ""),
        date=context.get("date", ""),
        comment=context.get("comment", ""),
        score=result.get("score"),
        criteria=criteria,
        recorded_at=row.server_ts,
        notes=notes,
    )


def _of_learners(learner_ids: list[int]) -> list[Observation]:
    if not learner_ids:
        return []
    rows = (
        Event.select()
        .where((Event.user.in_(learner_ids)) & (Event.verb.in_(("observed", "reflected"))))
        .order_by(Event.seq)
    )
    found: dict[str, Observation] = {}
    reflections: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row.verb == "observed":
            found[row.id] = _observation(row)
        else:
            context = json.loads(row.context or "{}")
            reflections[str(context.get("observation"))] = (context.get("text", ""), row.server_ts)
    for obs_id, (text, ts) in reflections.items():
        if obs_id in found:
            found[obs_id].reflection, found[obs_id].reflected_at = text, ts
    _name_criteria(found.values())
    return sorted(found.values(), key=lambda o: (o.date, o.recorded_at), reverse=True)


def _name_criteria(found: Iterable[Observation]) -> None:
    """Give each criterion its title and its level's label, from the installed form."""
    criteria: dict[str, dict[str, rubrics.Criterion]] = {}
    for obs in found:
        if obs.form not in criteria:
            try:
                criteria[obs.form] = {c.id: c for c in form_of(obs.form).criteria}
            except NotAForm:  # the pack was removed: the ids and points remain
                criteria[obs.form] = {}
        for entry in obs.criteria:
            known = criteria[obs.form].get(str(entry.get("criterion")))
            level = (
                next((lv for lv in known.levels if lv.id == entry.get("level_id")), None)
                if known
                else None
            )
            entry["title"] = known.title if known else {"en": entry.get("criterion", "")}
            entry["label"] = level.label if level else {}


def of_learner(viewer: User, learner_id: int) -> list[Observation]:
    """Return the observations of a student teacher, newest first.

    Raises:
        PermissionDenied: ``viewer`` may not see this student teacher.
    """
    if not accounts.can_see_learner(viewer, learner_id):
        raise PermissionDenied(
            N_("This student teacher is not assigned to you"), code="not_your_student"
        )
    return _of_learners([learner_id])


def reflect(learner: User, obs_id: str, text: Any) -> bool:
    """Add the student teacher's reflection to one of their observations; return whether new.

    Raises:
        ObservationNotFound: not an observation of ``learner``.
        ValidationError: empty or too long.
    """
    row = Event.get_or_none((Event.id == str(obs_id)) & (Event.verb == "observed"))
    if row is None or row.user_id != learner.id:  # type: ignore[attr-defined]
        raise ObservationNotFound(N_("There is no observation %(id)s for you"), id=str(obs_id))
    words = _text({"reflection": text}, "reflection", MAX_REFLECTION, required=True)
    event = learning_events.CleanEvent(
        0,
        str(uuid.uuid5(REFLECTION_NAMESPACE, row.id)),
        "reflected",
        row.object,
        None,
        {"observation": row.id, "text": words},
        None,
    )
    return learning_events.ingest(learner, [event]).accepted == 1


@dataclass
class MatrixRow:
    learner: User
    observations: int
    cells: dict[str, float | None]  # domain -> share of the points, 0..1


def cohort_matrix(viewer: User, cohort: Cohort) -> list[MatrixRow]:
    """Return, for each student teacher of ``cohort``, their observations' points per domain.

    A cell is the points of all the criteria of that domain over their most points, across
    every observation of the student teacher; None when no criterion of the domain was seen.

    Raises:
        PermissionDenied: ``viewer`` does not teach the cohort (nor is an admin).
    """
    if not accounts.can_see_cohort(viewer, cohort.id):
        raise PermissionDenied(N_("You do not teach this cohort"))
    learners = accounts.cohort_learners(cohort)
    by_learner: dict[int, list[Observation]] = {}
    for obs in _of_learners([u.id for u in learners]):
        by_learner.setdefault(obs.learner_id, []).append(obs)
    out = []
    for learner in learners:
        sums = {d: [0.0, 0.0] for d in DOMAINS}
        for obs in by_learner.get(learner.id, []):
            for c in obs.criteria:
                d = competency_domain(c.get("competency"))
                if d and isinstance(c.get("level"), int | float) and c.get("max"):
                    sums[d][0] += c["level"]
                    sums[d][1] += c["max"]
        cells = {d: (round(p / m, 4) if m else None) for d, (p, m) in sums.items()}
        out.append(MatrixRow(learner, len(by_learner.get(learner.id, [])), cells))
    return out
