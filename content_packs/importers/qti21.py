"""QTI 2.1 assessment items -> quiz questions.

Maps choiceInteraction (maxChoices 1 -> single, else multiple), textEntryInteraction
(-> short_text, or numeric for a float/integer response), orderInteraction -> ordering,
matchInteraction/associateInteraction with directedPair answers -> matching and
extendedTextInteraction -> essay. Items with several interactions, template variables or
custom response processing are reported, not converted. An ``assessmentTest`` alone names
items in other files: import the QTI content package (zip with imsmanifest.xml) instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # parsing goes through xmlsafe
from typing import Any

from edge_server.base.errors import N_

from .errors import BrokenFile
from .pack import lang_field, plain
from .report import ImportReport
from .xmlsafe import child, children, descendants, local

INTERACTIONS = {
    "choiceInteraction",
    "textEntryInteraction",
    "orderInteraction",
    "matchInteraction",
    "associateInteraction",
    "extendedTextInteraction",
}


def _inner_text(el: ET.Element | None) -> str:
    if el is None:
        return ""
    return plain(ET.tostring(el, encoding="unicode"))


def _prompt(body: ET.Element, interaction: ET.Element) -> str:
    prompt = _inner_text(child(interaction, "prompt"))
    rest = [
        _inner_text(el)
        for el in body
        if local(el.tag) not in INTERACTIONS
        and not any(local(d.tag) in INTERACTIONS for d in el.iter())
    ]
    return " ".join(t for t in [*rest, prompt] if t)


def _correct(root: ET.Element, response_id: str) -> tuple[list[str], str]:
    for decl in children(root, "responseDeclaration"):
        if decl.get("identifier") == response_id:
            values = [(v.text or "").strip() for v in descendants(decl, "value")]
            correct = child(decl, "correctResponse")
            values = (
                [(v.text or "").strip() for v in children(correct, "value")]
                if correct is not None
                else []
            )
            return values, decl.get("baseType", "")
    return [], ""


def item(root: ET.Element, report: ImportReport, label: str) -> dict[str, Any] | None:
    """Return the question of one ``assessmentItem``, or None (reported) if it does not map."""
    label = f"{label} ({root.get('title') or root.get('identifier') or ''})"
    body = child(root, "itemBody")
    found = [
        el for el in (body.iter() if body is not None else []) if local(el.tag) in INTERACTIONS
    ]
    if body is None or not found:
        report.skip(label, "no interaction Kru can grade (text or template only)")
        return None
    if len(found) > 1:
        report.skip(label, "several interactions in one item")
        return None
    inter = found[0]
    kind = local(inter.tag)
    prompt = _prompt(body, inter)
    if not prompt:
        report.skip(label, "no question text")
        return None
    q: dict[str, Any] = lang_field("prompt", prompt)
    right, base = _correct(root, inter.get("responseIdentifier", ""))
    if kind == "extendedTextInteraction":
        q["type"] = "essay"
        return q
    if not right:
        report.skip(label, "no correctResponse")
        return None
    if kind in ("choiceInteraction", "orderInteraction"):
        choices = descendants(inter, "simpleChoice")
        ids = [c.get("identifier", "") for c in choices]
        slugs = {cid: f"c{i + 1}" for i, cid in enumerate(ids)}
        texts = {cid: _inner_text(c) for cid, c in zip(ids, choices, strict=True)}
        if kind == "orderInteraction":
            if sorted(right) != sorted(ids):
                report.skip(label, "the correct order does not name every choice")
                return None
            q["type"] = "ordering"
            q["choices"] = [{"id": slugs[r], **lang_field("text", texts[r])} for r in right]
            return q
        if any(r not in slugs for r in right):
            report.skip(label, "the correct response names no choice")
            return None
        q["choices"] = [{"id": slugs[c], **lang_field("text", texts[c])} for c in ids]
        if inter.get("maxChoices", "1") == "1":
            q["type"], q["answer"] = "single", slugs[right[0]]
        else:
            q["type"], q["answer"] = "multiple", [slugs[r] for r in right]
        return q
    if kind == "textEntryInteraction":
        if base in ("float", "integer"):
            try:
                q["type"], q["answer"], q["tolerance"] = "numeric", float(right[0]), 0
            except ValueError:
                report.skip(label, "the correct response is not a number")
                return None
        else:
            q["type"], q["accept"] = "short_text", right
        return q
    # match/associate: directedPair values "A B"
    texts = {
        c.get("identifier", ""): _inner_text(c)
        for c in descendants(inter, "simpleAssociableChoice")
    }
    pairs: list[dict[str, Any]] = []
    for value in right:
        left, _, other = value.partition(" ")
        if left not in texts or other not in texts:
            report.skip(label, "a pair names an unknown choice")
            return None
        pairs.append(
            {
                "id": f"p{len(pairs) + 1}",
                **lang_field("text", texts[left]),
                **lang_field("match", texts[other]),
            }
        )
    if len(pairs) < 2:
        report.skip(label, "a matching question needs two pairs")
        return None
    q["type"], q["pairs"] = "matching", pairs
    return q


def check_test(root: ET.Element, label: str) -> None:
    """Refuse an ``assessmentTest`` file: name its first problem, else say what to import.

    Raises:
        BrokenFile: always (a test alone has no items to convert).
    """
    for section in descendants(root, "assessmentSection"):
        selection = child(section, "selection")
        refs = children(section, "assessmentItemRef") + children(section, "assessmentSection")
        if selection is not None:
            select = int(selection.get("select", "0") or 0)
            required = sum(1 for r in refs if r.get("required") == "true")
            if required > select:
                raise BrokenFile(
                    N_(
                        "%(file)s: section %(section)s selects %(select)s items "
                        "but requires %(required)s"
                    ),
                    file=label,
                    section=section.get("identifier", ""),
                    select=select,
                    required=required,
                )
            if select > len(refs) and selection.get("withReplacement") != "true":
                raise BrokenFile(
                    N_("%(file)s: section %(section)s selects %(select)s of only %(count)s items"),
                    file=label,
                    section=section.get("identifier", ""),
                    select=select,
                    count=len(refs),
                )
    raise BrokenFile(
        N_(
            "%(file)s is a QTI assessmentTest: its items are in other files; "
            "import the QTI content package (zip with imsmanifest.xml)"
        ),
        file=label,
    )
