"""Aiken question files -> single-choice questions.

A question is its text on one line, then options ``A) text`` or ``A. text`` (letter,
``)`` or ``.``, a space), then ``ANSWER: A``. Questions that break the format are listed
in the report with the reason, as Moodle's importer does. https://docs.moodle.org/en/Aiken_format
"""

from __future__ import annotations

import re
from typing import Any

from .pack import lang_field, plain
from .report import ImportReport

_OPTION = re.compile(r"^([A-Z])[.)]\s+(.*)$")
_ANSWER = re.compile(r"^ANSWER:\s*([A-Z])\s*$")


def looks_like(text: str) -> bool:
    return any(_ANSWER.match(line.strip()) for line in text.splitlines()[:200])


def _finish(q: dict[str, Any] | None, report: ImportReport, out: list, n: int) -> None:
    if q is None:
        return
    label = f"question {n} ({q['_text'][:40]})"
    if q.get("_answer") is None:
        report.skip(label, "no ANSWER: line after its options")
    elif len(q["_options"]) < 2:
        report.skip(label, "fewer than two options")
    elif q["_answer"] not in q["_options"]:
        report.skip(label, f"the answer {q['_answer']} is not one of its options")
    else:
        question: dict[str, Any] = lang_field("prompt", plain(q["_text"], is_html=False))
        question["type"] = "single"
        question["choices"] = [
            {"id": letter.lower(), **lang_field("text", plain(text, is_html=False))}
            for letter, text in q["_options"].items()
        ]
        question["answer"] = q["_answer"].lower()
        out.append(question)


def parse(text: str, report: ImportReport, default: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """Return one (name, questions) group read from an Aiken file's text."""
    out: list[dict[str, Any]] = []
    q: dict[str, Any] | None = None
    n = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if q is not None and line.upper().startswith("ANSWER:"):
            m = _ANSWER.match(line)
            q["_answer"] = m.group(1) if m else line.split(":", 1)[1].strip()[:20] or "?"
            _finish(q, report, out, n)
            q = None
        elif q is not None and q.get("_answer") is None and (m := _OPTION.match(line)):
            q["_options"][m.group(1)] = m.group(2)
        else:
            if q is not None and q.get("_answer") is None and not q["_options"]:
                q["_text"] += " " + line  # a question text on several lines
                continue
            if q is not None:
                _finish(q, report, out, n)
            n += 1
            q = {"_text": line, "_options": {}, "_answer": None}
    if q is not None:
        _finish(q, report, out, n)
    return [(default, out)]
