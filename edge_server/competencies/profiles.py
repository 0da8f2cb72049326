"""Learners' competency profiles (issue 16 item 6): the learner's own, the cohort's matrix,
and the site's decisions of levels, written to the log for central. No Flask here.

The site decides levels (``rules.decide``) from the evidence (``evidence.gather``); each time a
learner's level of a competency changes, one ``assessed`` event goes into their log, object
``urn:kru:competency:<code>``, ``result`` ``{"level", "score", "evidence"}``, ``context`` the
framework's and competency's names (central has no packs to look them up), with an id derived
from the learner, the code and the change's number, so deciding again adds nothing.
Event ingest calls ``after_progress`` in its transaction; ``decide_all`` catches up a whole
site (``kru competencies rebuild``, after a pack with a new framework is installed).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from content_packs.catalog import CompetencyData, competency_data, item_data, item_records
from content_packs.frameworks import Competency, Framework

from .. import accounts
from ..accounts.models import User
from ..base.db import db
from ..base.errors import N_, KruError, NotFound, PermissionDenied
from ..learning import events as learning_events
from ..learning.models import Event
from . import rules
from .evidence import gather

log = logging.getLogger(__name__)

VERB = "assessed"
OBJECT_PREFIX = "urn:kru:competency:"
NAMESPACE = uuid.UUID("2b7d1f3c-5e0a-4c9b-8d61-6b7275000016")
LEVEL_NAMES = {
    rules.NOT_YET: N_("Not yet"),
    rules.BEGINNING: N_("Beginning"),
    rules.DEVELOPING: N_("Developing"),
    rules.PROFICIENT: N_("Proficient"),
}
KIND_NAMES = {
    rules.STUDIED: N_("item studied"),
    rules.SCORED: N_("quiz or task score"),
    rules.REVIEW: N_("task review"),
    rules.OBSERVATION: N_("observation of teaching"),
}


class LearnerNotFound(NotFound):
    code = "learner_not_found"


def pick(text: dict[str, str] | None, lang: str) -> str:
    text = text or {}
    return (text.get("en") if lang == "en" else None) or text.get("km") or text.get("en") or ""


@dataclass
class EvidenceView:
    item: str
    item_title: str
    kind: str
    share: float | None
    ts: str
    code: str
    criterion: str | None = None
    criterion_title: str | None = None
    points: float | None = None
    max_points: float | None = None


@dataclass
class CompetencyView:
    code: str
    title: str
    level: int
    score: float | None
    evidence: list[EvidenceView] = field(default_factory=list)


@dataclass
class DomainView:
    code: str
    title: str
    competencies: list[CompetencyView]


@dataclass
class FrameworkView:
    code: str
    title: str
    sample: bool
    domains: list[DomainView]


@dataclass
class Profile:
    learner: User
    frameworks: list[FrameworkView]

    def json(self) -> dict[str, Any]:
        return {
            "learner": {
                "uid": self.learner.uid,
                "name": self.learner.display_name or self.learner.username,
            },
            "frameworks": [_framework_json(fw) for fw in self.frameworks],
        }


def _framework_json(fw: FrameworkView) -> dict[str, Any]:
    return {
        "code": fw.code,
        "title": fw.title,
        "sample": fw.sample,
        "domains": [
            {
                "code": d.code,
                "title": d.title,
                "competencies": [
                    {
                        "code": c.code,
                        "title": c.title,
                        "level": c.level,
                        "score": c.score,
                        "evidence": [e.__dict__ for e in c.evidence],
                    }
                    for c in d.competencies
                ],
            }
            for d in fw.domains
        ],
    }


def _criterion_titles(keys: Iterable[str], lang: str) -> dict[tuple[str, str], str]:
    """Return the title of each rubric criterion of the items ``keys`` (tasks, forms)."""
    out: dict[tuple[str, str], str] = {}
    for key, text in item_data(keys).items():
        for body in json.loads(text or "{}").values():
            if isinstance(body, dict) and isinstance(body.get("rubric"), list):
                for c in body["rubric"]:
                    if isinstance(c, dict) and c.get("id"):
                        out[(key, str(c["id"]))] = pick(c.get("title"), lang) or str(c["id"])
    return out


def _views(
    fw: Framework, found: dict[str, list[rules.Evidence]], lang: str, *, detail: bool
) -> FrameworkView:
    titles: dict[str, str] = {}
    criteria: dict[tuple[str, str], str] = {}
    if detail:
        keys = {e.item for evs in found.values() for e in evs}
        titles = {
            k: (r[3] if lang == "en" and r[3] else r[2]) for k, r in item_records(keys).items()
        }
        criteria = _criterion_titles(keys, lang)
    domains = []
    for d in fw.domains:
        rows = []
        for code in d.standards:
            comp: Competency = fw.competencies[code]
            evs = found.get(code, [])
            decision = rules.decide(evs)
            view = CompetencyView(code, pick(comp.title, lang), decision.level, decision.score)
            if detail:
                view.evidence = [
                    EvidenceView(
                        e.item,
                        titles.get(e.item, e.item),
                        e.kind,
                        e.share,
                        e.ts,
                        e.code,
                        e.criterion,
                        criteria.get((e.item, e.criterion or "")),
                        e.points,
                        e.max_points,
                    )
                    for e in evs
                ]
            rows.append(view)
        domains.append(DomainView(d.code, pick(d.title, lang), rows))
    return FrameworkView(fw.code, pick(fw.title, lang), fw.sample, domains)


def learner_profile(viewer: User, learner_id: int, lang: str) -> Profile:
    """Return a learner's profile with its evidence, for them, their instructors and admins.

    Raises:
        LearnerNotFound: no such learner, or not one ``viewer`` may see (one answer for both).
    """
    learner = User.get_or_none(User.id == learner_id)
    if learner is None or not accounts.can_see_learner(viewer, learner_id):
        raise LearnerNotFound(N_("There is no learner %(id)s for you"), id=learner_id)
    data = competency_data()
    found = gather([learner.id], data)[learner.id]
    return Profile(
        learner, [_views(fw, found, lang, detail=True) for fw in data.frameworks.values()]
    )


@dataclass
class MatrixRow:
    learner: User
    frameworks: list[FrameworkView]

    @property
    def cells(self) -> list[CompetencyView]:
        return [c for fw in self.frameworks for d in fw.domains for c in d.competencies]


@dataclass
class Matrix:
    cohort: Any
    frameworks: list[FrameworkView]  # the columns (levels of the first row, or empty)
    rows: list[MatrixRow]

    def json(self) -> dict[str, Any]:
        return {
            "cohort": {"id": self.cohort.id, "name": self.cohort.name},
            "competencies": [
                {"code": c.code, "title": c.title, "domain": d.code}
                for fw in self.frameworks
                for d in fw.domains
                for c in d.competencies
            ],
            "learners": [
                {
                    "id": r.learner.id,
                    "uid": r.learner.uid,
                    "name": r.learner.display_name or r.learner.username,
                    "levels": {c.code: c.level for c in r.cells},
                    "scores": {c.code: c.score for c in r.cells},
                }
                for r in self.rows
            ],
        }


def cohort_matrix(viewer: User, cohort_id: int, lang: str) -> Matrix:
    """Return the cohort's learners by competency, with each level (a few queries in all).

    Raises:
        PermissionDenied: ``viewer`` does not teach the cohort (nor is an admin).
    """
    if not accounts.can_see_cohort(viewer, cohort_id):
        raise PermissionDenied(N_("You do not teach this cohort"))
    cohort = accounts.get_cohort(cohort_id)
    learners = [u for u in accounts.cohort_learners(cohort) if u.role == "learner"]
    data = competency_data()
    found = gather([u.id for u in learners], data)
    rows = [
        MatrixRow(
            u, [_views(fw, found[u.id], lang, detail=False) for fw in data.frameworks.values()]
        )
        for u in learners
    ]
    columns = [_views(fw, {}, lang, detail=False) for fw in data.frameworks.values()]
    return Matrix(cohort, columns, rows)


def event_id(user: User, code: str, number: int) -> str:
    """Return the id of the ``number``-th level the site decided for ``user`` and ``code``."""
    return str(uuid.uuid5(NAMESPACE, f"{user.uid}:{code}:{number}"))


def _last_decisions(user: User) -> dict[str, tuple[int, int]]:
    """Return code -> (how many decisions, the last level) of ``user``'s log."""
    out: dict[str, tuple[int, int]] = {}
    rows = (
        Event.select(Event.object, Event.result)
        .where((Event.user == user.id) & (Event.verb == VERB))
        .order_by(Event.seq)
        .tuples()
    )
    for obj, result in rows.iterator():
        code = obj[len(OBJECT_PREFIX) :]
        count = out.get(code, (0, 0))[0]
        out[code] = (count + 1, int(json.loads(result or "{}").get("level", 0)))
    return out


def decide(user: User, data: CompetencyData | None = None) -> int:
    """Write an ``assessed`` event for each competency whose level changed for ``user``;
    return how many were written (inside the caller's transaction, or one of its own)."""
    data = data or competency_data()
    if not data.frameworks:
        return 0
    found = gather([user.id], data)[user.id]
    last = _last_decisions(user)
    ts = learning_events.now_ts()
    rows = []
    for fw in data.frameworks.values():
        for d in fw.domains:
            for code in d.standards:
                decision = rules.decide(found.get(code, []))
                count, level = last.get(code, (0, rules.NOT_YET))
                if decision.level == level:
                    continue
                comp = fw.competencies[code]
                rows.append(
                    {
                        "id": event_id(user, code, count + 1),
                        "user": user.id,
                        "verb": VERB,
                        "object": OBJECT_PREFIX + code,
                        "result": json.dumps(
                            {
                                "level": decision.level,
                                "score": decision.score,
                                "evidence": decision.evidence,
                            }
                        ),
                        "context": json.dumps(
                            {
                                "decided_by": "site",
                                "framework": {
                                    "code": fw.code,
                                    "title": fw.title,
                                    "sample": fw.sample,
                                },
                                "domain": {"code": d.code, "title": d.title},
                                "title": comp.title,
                                "number": count + 1,
                            },
                            ensure_ascii=False,
                        ),
                        "client_ts": ts,
                        "server_ts": ts,
                        "boot_id": learning_events.boot_id(),
                    }
                )
    if rows:
        with db.atomic():
            Event.insert_many(rows).on_conflict_ignore().execute()
    return len(rows)


def after_progress(user: User, summaries: Iterable[Any], server_ts: str) -> None:
    """Decide ``user``'s levels again when a batch touched an item naming a competency
    (event ingest calls this in its transaction)."""
    if user.role != "learner":
        return
    try:
        data = competency_data()
        if any(s.item in data.named_items for s in summaries):
            decide(user, data)
    except (KruError, ValueError):  # the learning events must be stored all the same
        log.exception("competency levels of %s not decided", user.username)


learning_events.on_progress(after_progress)


def decide_all() -> dict[str, int]:
    """Decide every learner's levels again; return learners seen and events written."""
    data = competency_data()
    learners = list(User.select().where(User.role == "learner").order_by(User.id))
    written = sum(decide(u, data) for u in learners)
    return {"learners": len(learners), "events": written}
