"""QTI 1.2 assessments of Common Cartridge (the CC QTI profile) -> quiz questions.

Maps cc.multiple_choice and cc.true_false -> single, cc.multiple_response -> multiple,
cc.fib -> short_text, cc.essay -> essay. A right answer is one whose condition sets a
positive score. Other profiles (Canvas extensions such as matching or numeric in QTI 1.2)
are listed in the report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # parsing goes through xmlsafe
from typing import Any

from .pack import lang_field, plain
from .report import ImportReport
from .xmlsafe import child, children, descendants, local


def _profile(item: ET.Element) -> str:
    for field in descendants(item, "qtimetadatafield"):
        label = child(field, "fieldlabel")
        entry = child(field, "fieldentry")
        if label is not None and entry is not None and label.text == "cc_profile":
            return (entry.text or "").strip()
    return ""


def _text(el: ET.Element | None) -> str:
    if el is None:
        return ""
    mattext = next(iter(descendants(el, "mattext")), None)
    if mattext is None:
        return ""
    return plain(mattext.text or "", is_html="html" in mattext.get("texttype", "html"))


def _scoring_conditions(item: ET.Element) -> list[ET.Element]:
    """Return the conditionvar elements of the conditions that set a positive score."""
    found = []
    for cond in descendants(item, "respcondition"):
        for setvar in children(cond, "setvar"):
            try:
                positive = float(setvar.text or 0) > 0
            except ValueError:
                positive = False
            if positive and (var := child(cond, "conditionvar")) is not None:
                found.append(var)
    return found


def _right_ids(var: ET.Element) -> list[str]:
    """Return the response ids a condition requires (not those under <not>)."""
    out = []
    for el in var.iter():
        if local(el.tag) == "varequal":
            out.append((el.text or "").strip())
    negated = {
        (v.text or "").strip() for n in descendants(var, "not") for v in descendants(n, "varequal")
    }
    return [o for o in out if o not in negated]


def question(item: ET.Element, report: ImportReport, label: str) -> dict[str, Any] | None:
    """Return the Kru question of one QTI 1.2 ``<item>``, or None (reported)."""
    profile = _profile(item)
    label = f"{label} ({item.get('title') or item.get('ident') or ''})"
    presentation = child(item, "presentation")
    prompt = _text(child(presentation, "material")) if presentation is not None else ""
    if not prompt:
        report.skip(label, "no question text")
        return None
    q: dict[str, Any] = lang_field("prompt", prompt)
    kind = profile.removeprefix("cc.").split(".")[0]
    if kind == "essay":
        q["type"] = "essay"
        return q
    conditions = _scoring_conditions(item)
    right = [r for var in conditions for r in _right_ids(var)]
    if kind in ("multiple_choice", "true_false", "multiple_response"):
        labels = descendants(item, "response_label")
        ids = {lab.get("ident", ""): f"c{i + 1}" for i, lab in enumerate(labels)}
        q["choices"] = [
            {"id": ids[lab.get("ident", "")], **lang_field("text", _text(lab) or "-")}
            for lab in labels
        ]
        chosen = [ids[r] for r in right if r in ids]
        if not chosen:
            report.skip(label, "no right answer")
            return None
        if kind == "multiple_response":
            q["type"], q["answer"] = "multiple", sorted(set(chosen))
        else:
            q["type"], q["answer"] = "single", chosen[0]
        return q
    if kind == "fib":
        accept = sorted({r for r in right if r})
        if not accept:
            report.skip(label, "no right answer")
            return None
        q["type"], q["accept"] = "short_text", accept
        return q
    report.skip(label, f"question type {profile or 'unknown'} is not supported")
    return None


def questions(root: ET.Element, report: ImportReport) -> list[dict[str, Any]]:
    """Return the questions of a ``<questestinterop>`` document."""
    out = []
    for n, item in enumerate(descendants(root, "item"), 1):
        if (q := question(item, report, f"question {n}")) is not None:
            out.append(q)
    return out
