"""Moodle XML question files -> quiz questions.

Maps multichoice (single or several right answers), truefalse, shortanswer, numerical,
matching, ordering (the ``qtype_ordering`` plugin), essay; ``category`` questions start a
new quiz. description, calculated, cloze (multianswer), drag-and-drop and other types are
listed in the report. https://docs.moodle.org/en/Moodle_XML_format
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # parsing goes through xmlsafe
from typing import Any

from .pack import lang_field, plain
from .report import ImportReport
from .xmlsafe import child, children, descendants


def _text(el: ET.Element | None) -> str:
    """Return the plain text of a ``<questiontext>``/``<answer>``-like element."""
    if el is None:
        return ""
    inner = child(el, "text")
    raw = inner.text if inner is not None else el.text
    return plain(raw or "", is_html=el.get("format", "html") in ("html", "moodle_auto_format"))


def _fraction(answer: ET.Element) -> float:
    try:
        return float(answer.get("fraction", "0"))
    except ValueError:
        return 0.0


def _feedback(q: dict[str, Any], el: ET.Element) -> None:
    for name, field in (
        ("correctfeedback", "feedback_correct"),
        ("incorrectfeedback", "feedback_wrong"),
    ):
        if text := _text(child(el, name)):
            q.update(lang_field(field, text))


def _question(el: ET.Element, kind: str, label: str, report: ImportReport) -> dict[str, Any] | None:
    prompt = _text(child(el, "questiontext"))
    if not prompt:
        report.skip(label, "no question text")
        return None
    q: dict[str, Any] = lang_field("prompt", prompt)
    answers = children(el, "answer")
    if kind in ("multichoice", "ordering"):
        texts = [_text(a) for a in answers]
        q["choices"] = [{"id": f"c{i + 1}", **lang_field("text", t)} for i, t in enumerate(texts)]
        if kind == "ordering":
            q["type"] = "ordering"  # Moodle lists the answers in the right order
            return q
        right_ids = [f"c{i + 1}" for i, a in enumerate(answers) if _fraction(a) > 0]
        if not right_ids:
            report.skip(label, "no right answer")
            return None
        flag = child(el, "single")
        single = flag is None or (flag.text or "true").strip() == "true"
        if single and len(right_ids) == 1:
            q["type"], q["answer"] = "single", right_ids[0]
        else:
            q["type"], q["answer"] = "multiple", right_ids
        if any(0 < _fraction(a) < 100 for a in answers) and single:
            report.skip(f"{label}: partial credit", "only the fully right answer is kept")
        _feedback(q, el)
    elif kind == "truefalse":
        best = next((a for a in answers if _fraction(a) >= 100), None)
        if best is None:
            report.skip(label, "no right answer")
            return None
        q["type"], q["answer"] = "true_false", _text(best).lower() == "true"
    elif kind == "shortanswer":
        accept = [
            _text(a) for a in answers if _fraction(a) >= 100 and _text(a) and "*" not in _text(a)
        ]
        if len(accept) < len(answers):
            report.skip(f"{label}: some answers", "partial credit and * wildcards are not kept")
        if not accept:
            report.skip(label, "no fully right answer")
            return None
        q["type"], q["accept"] = "short_text", accept
    elif kind == "numerical":
        top = next((a for a in answers if _fraction(a) >= 100), None)
        try:
            q["answer"] = float(_text(top)) if top is not None else None
            tol = child(top, "tolerance") if top is not None else None
            q["tolerance"] = abs(float(tol.text or 0)) if tol is not None else 0
        except ValueError:
            q["answer"] = None
        if q["answer"] is None:
            report.skip(label, "no right numeric answer")
            return None
        q["type"] = "numeric"
    elif kind == "matching":
        pairs: list[dict[str, Any]] = []
        for sub in children(el, "subquestion"):
            left, other = _text(sub), _text(child(sub, "answer"))
            if not left:
                report.skip(
                    f"{label}: answer {other!r}", "a matching answer without a pair is dropped"
                )
                continue
            pairs.append(
                {
                    "id": f"p{len(pairs) + 1}",
                    **lang_field("text", left),
                    **lang_field("match", other),
                }
            )
        if len(pairs) < 2:
            report.skip(label, "a matching question needs two pairs")
            return None
        q["type"], q["pairs"] = "matching", pairs
    elif kind == "essay":
        q["type"] = "essay"
    else:
        report.skip(label, f"question type {kind} is not supported")
        return None
    return q


def parse(
    root: ET.Element, report: ImportReport, default: str
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Return (category, questions) groups read from a Moodle XML ``<quiz>`` element."""
    groups: list[tuple[str, list[dict[str, Any]]]] = [(default, [])]
    for n, el in enumerate(children(root, "question"), 1):
        kind = el.get("type", "")
        if kind == "category":
            path = _text(child(el, "category")).replace("$course$/", "").strip("/")
            groups.append((path.split("/")[-1] or default, []))
            continue
        name = _text(child(el, "name"))
        label = f"question {n}" + (f" ({name})" if name else "")
        if (q := _question(el, kind, label, report)) is not None:
            groups[-1][1].append(q)
    return groups


BACKUP_TYPES = {"match": "matching"}


def from_backup(el: ET.Element, label: str, report: ImportReport) -> dict[str, Any] | None:
    """Return the quiz question of a ``<question>`` of a course backup's questions.xml.

    The backup keeps a question as database rows (``qtype``, ``plugin_qtype_*_question``,
    answer fractions from 0 to 1); they are put in the shape of a Moodle XML question and
    converted as one.
    """

    def text_of(source: ET.Element | None, name: str) -> str:
        found = child(source, name) if source is not None else None
        value = (found.text or "") if found is not None else ""
        return "" if value == "$@NULL@$" else value

    def wrapped(tag: str, value: str, **attrib: str) -> ET.Element:
        out = ET.Element(tag, {"format": "html", **attrib})
        ET.SubElement(out, "text").text = value
        return out

    qtype = text_of(el, "qtype")
    kind = BACKUP_TYPES.get(qtype, qtype)
    name = text_of(el, "name")
    label = label + (f" ({name})" if name else "")
    plugin = next((c for c in el if c.tag == f"plugin_qtype_{qtype}_question"), None)
    made = ET.Element("question", {"type": kind})
    made.append(wrapped("questiontext", text_of(el, "questiontext")))
    for answer in descendants(plugin, "answer") if plugin is not None else []:
        try:
            fraction = float(text_of(answer, "fraction") or 0) * 100
        except ValueError:
            fraction = 0.0
        made.append(wrapped("answer", text_of(answer, "answertext"), fraction=f"{fraction:g}"))
    if qtype == "multichoice" and plugin is not None:
        options = next(iter(descendants(plugin, "multichoice")), None)
        single = text_of(options, "single") if options is not None else "1"
        ET.SubElement(made, "single").text = "false" if single == "0" else "true"
    if qtype == "match" and plugin is not None:
        for pair in descendants(plugin, "match"):
            sub = wrapped("subquestion", text_of(pair, "questiontext"))
            sub.append(wrapped("answer", text_of(pair, "answertext")))
            made.append(sub)
    return _question(made, kind, label, report)
