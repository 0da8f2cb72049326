"""Competency frameworks in packs (issue 16 item 5): their shape, their codes, and the checks
the schema cannot make. No database here: ``content_packs.catalog`` reads the installed ones.

A framework is data in a pack's manifest (``frameworks``): a code prefix (``CTPS``), titles,
and domains (``CTPS.2``) holding standards (``CTPS.2.3``) holding optional indicators
(``CTPS.2.3.1``). Items name the competencies they give evidence for (``competencies`` on any
item, ``competency`` on a rubric criterion of a task or an observation form); a named code is
a standard or an indicator. The sample pack ships a SAMPLE built on the four domains of the
Cambodian Teacher Professional Standards; the official text arrives as a pack, and a framework
not marked ``sample`` wins over a sample one with the same prefix (``resolve``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from edge_server.base.errors import N_

from .errors import Problem

MANIFEST = "manifest.json"
NOT_IN_FRAMEWORK = N_(
    "item %(slug)s names the competency %(competency)s, which is no standard or indicator "
    "of the framework %(framework)s"
)
CODE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)((?:\.[0-9]+){1,3})$")


@dataclass(frozen=True)
class Competency:
    """A standard of a framework: the unit of a learner's profile."""

    code: str
    title: dict[str, str]
    domain: str  # the domain's code
    indicators: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> title


@dataclass(frozen=True)
class Domain:
    code: str
    title: dict[str, str]
    standards: tuple[str, ...]


@dataclass(frozen=True)
class Framework:
    id: str
    code: str
    sample: bool
    title: dict[str, str]
    domains: tuple[Domain, ...]
    competencies: dict[str, Competency]  # standard code -> competency, in framework order
    pack: str = ""

    def competency_of(self, code: str) -> Competency | None:
        """Return the standard a code names (itself, or the standard of an indicator)."""
        parts = code.split(".")
        return self.competencies.get(".".join(parts[:3]))

    def domain(self, code: str) -> Domain | None:
        return next((d for d in self.domains if d.code == code), None)


def prefix(code: str) -> str:
    """Return the framework prefix of a competency code (``CTPS`` of ``CTPS.2.3``)."""
    return code.split(".", 1)[0]


def parse(raw: dict[str, Any], pack: str = "") -> Framework:
    """Return the framework of a manifest's ``frameworks`` entry (checked by the schema)."""
    domains: list[Domain] = []
    competencies: dict[str, Competency] = {}
    for d in raw.get("domains") or []:
        codes = []
        for s in d.get("standards") or []:
            competencies[s["code"]] = Competency(
                s["code"],
                dict(s["title"]),
                d["code"],
                {i["code"]: dict(i["title"]) for i in s.get("indicators") or []},
            )
            codes.append(s["code"])
        domains.append(Domain(d["code"], dict(d["title"]), tuple(codes)))
    return Framework(
        raw["id"],
        raw["code"],
        bool(raw.get("sample", False)),
        dict(raw["title"]),
        tuple(domains),
        competencies,
        pack,
    )


def resolve(frameworks: Iterable[Framework]) -> dict[str, Framework]:
    """Return one framework per prefix: an official one over a sample, else the last given."""
    out: dict[str, Framework] = {}
    for fw in frameworks:
        kept = out.get(fw.code)
        if kept is None or kept.sample or not fw.sample:
            out[fw.code] = fw
    return out


def named_codes(manifest: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield (item slug, code) of every competency the manifest's items name: the item's
    ``competencies`` and the ``competency`` of each rubric criterion (tasks, observation forms)."""
    for course in manifest.get("courses") or []:
        for module in course.get("modules") or []:
            for item in module.get("items") or []:
                for code in item.get("competencies") or []:
                    yield item["slug"], code
                for body in item.values():
                    if isinstance(body, dict) and isinstance(body.get("rubric"), list):
                        for criterion in body["rubric"]:
                            if isinstance(criterion, dict) and criterion.get("competency"):
                                yield item["slug"], criterion["competency"]


def is_named(code: str, frameworks: dict[str, Framework]) -> bool:
    """Return whether ``code`` is a standard or indicator of the framework of its prefix."""
    fw = frameworks.get(prefix(code))
    if fw is None:
        return False
    found = fw.competency_of(code)
    if found is None or code.count(".") < 2:
        return False
    return code == found.code or code in found.indicators


def _problem(kind: str, template: str, **params: Any) -> Problem:
    return Problem(kind, template, MANIFEST, params)


def manifest_problems(manifest: dict[str, Any]) -> list[Problem]:
    """Return what the schema cannot say of frameworks and the codes items name: codes in
    their place (``CTPS.2`` in ``CTPS``, ``CTPS.2.3`` in ``CTPS.2``), each once, and every code
    named with the prefix of a framework of this pack known to it."""
    problems: list[Problem] = []
    seen: set[str] = set()
    own: dict[str, Framework] = {}
    for raw in manifest.get("frameworks") or []:
        base = raw["code"]
        if base in own:
            problems.append(
                _problem(
                    "framework_invalid",
                    N_("the framework %(competency)s is in the pack twice"),
                    code=base,
                )
            )
        levels = [(d, base, 1) for d in raw.get("domains") or []]
        for d in raw.get("domains") or []:
            levels += [(s, d["code"], 2) for s in d.get("standards") or []]
            for s in d.get("standards") or []:
                levels += [(i, s["code"], 3) for i in s.get("indicators") or []]
        for entry, parent, depth in levels:
            code = entry["code"]
            match = CODE.match(code)
            if (
                match is None
                or code.rpartition(".")[0] != parent
                or match.group(2).count(".") != depth
            ):
                problems.append(
                    _problem(
                        "framework_invalid",
                        N_(
                            "framework %(framework)s: the code %(competency)s must be "
                            "%(parent)s.<number>"
                        ),
                        framework=base,
                        competency=code,
                        parent=parent,
                    )
                )
            elif code in seen:
                problems.append(
                    _problem(
                        "framework_invalid",
                        N_("framework %(framework)s: the code %(competency)s is used twice"),
                        framework=base,
                        competency=code,
                    )
                )
            seen.add(code)
        if not problems:
            own[base] = parse(raw)
    problems += [
        _not_in_framework(slug, code)
        for slug, code in named_codes(manifest)
        if prefix(code) in own and not is_named(code, own)
    ]
    return problems


def install_problems(manifest: dict[str, Any], installed: dict[str, Framework]) -> list[Problem]:
    """Return the codes a pack names that an installed framework does not have.

    A code of a framework neither the pack nor the site holds is no problem: packs reach a
    site in any order, and the framework's pack (the official text) may come later; until it
    does, such codes give no evidence (``unknown_frameworks`` names them for a warning).
    """
    own = {raw["code"] for raw in manifest.get("frameworks") or []}
    return [
        _not_in_framework(slug, code)
        for slug, code in named_codes(manifest)
        if prefix(code) not in own and prefix(code) in installed and not is_named(code, installed)
    ]


def _not_in_framework(slug: str, code: str) -> Problem:
    """Return the problem of an item naming ``code``, which its framework does not have."""
    return _problem(
        "competency_unknown", NOT_IN_FRAMEWORK, slug=slug, competency=code, framework=prefix(code)
    )


def unknown_frameworks(manifest: dict[str, Any], installed: dict[str, Framework]) -> list[str]:
    """Return the prefixes of the codes a pack names whose framework is nowhere yet."""
    own = {raw["code"] for raw in manifest.get("frameworks") or []}
    return sorted({prefix(c) for _s, c in named_codes(manifest)} - own - set(installed))
