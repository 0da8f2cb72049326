"""GIFT question files (Moodle's text format) -> quiz questions.

Maps: multiple choice (one ``=``) -> single; ``~%50%`` weights -> multiple (the answers with
a positive weight); ``{T}``/``{FALSE}`` -> true_false; ``{#3:2}``/``{#1..5}`` -> numeric;
only ``=`` answers -> short_text; ``a -> b`` -> matching; ``{}`` -> essay. Partial credit,
wildcards and unpaired matching answers are dropped and reported; ``$CATEGORY:`` lines
make one quiz per category. https://docs.moodle.org/en/GIFT_format
"""

from __future__ import annotations

import re
from typing import Any

from .pack import lang_field, plain
from .report import ImportReport

_MARKER = re.compile(r"^\s*\[(html|moodle|plain|markdown)\]", re.I)
_ESCAPES = {"\\=": "=", "\\~": "~", "\\#": "#", "\\{": "{", "\\}": "}", "\\:": ":", "\\n": " "}
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")


def _unescape(text: str) -> str:
    for code, char in _ESCAPES.items():
        text = text.replace(code, char)
    return text


def _text(raw: str) -> str:
    """Return GIFT text as plain text: format marker, escapes and HTML removed."""
    match = _MARKER.match(raw)
    is_html = True
    if match:
        is_html = match.group(1).lower() in ("html", "moodle")
        raw = raw[match.end() :]
    return plain(_unescape(raw.strip()), is_html=is_html)


def _split_unescaped(text: str, seps: str) -> list[tuple[str, str]]:
    """Split ``text`` before each unescaped char of ``seps``; return (sep, part) pairs."""
    parts: list[tuple[str, str]] = []
    sep, buf, i = "", [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i : i + 2])
            i += 2
            continue
        if ch in seps:
            if buf or sep:
                parts.append((sep, "".join(buf)))
            sep, buf = ch, []
        else:
            buf.append(ch)
        i += 1
    if buf or sep:
        parts.append((sep, "".join(buf)))
    return parts


def _find(text: str, char: str, start: int = 0) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            return i
        i += 1
    return -1


def _answer_and_feedback(raw: str) -> tuple[str, str]:
    parts = _split_unescaped(raw, "#")
    answer = parts[0][1] if parts and parts[0][0] == "" else ""
    feedback = next((p for s, p in parts if s == "#" and p.strip()), "")
    return answer, feedback


def _feedback(q: dict[str, Any], right: str, wrong: str) -> None:
    if right:
        q.update(lang_field("feedback_correct", _text(right)))
    if wrong:
        q.update(lang_field("feedback_wrong", _text(wrong)))


def _numeric(q: dict[str, Any], body: str, report: ImportReport, label: str) -> bool:
    first = _split_unescaped(body[1:], "=~")[0][1]
    value, _ = _answer_and_feedback(first)
    value = value.strip()
    try:
        if ".." in value:
            low, high = (float(v) for v in value.split(".."))
            q["answer"], q["tolerance"] = (low + high) / 2, (high - low) / 2
        elif ":" in value:
            target, tol = (float(v) for v in value.split(":"))
            q["answer"], q["tolerance"] = target, abs(tol)
        else:
            q["answer"], q["tolerance"] = float(value), 0
    except ValueError:
        report.skip(label, "the numeric answer is not a number or range")
        return False
    q["type"] = "numeric"
    return True


def _choices(q: dict[str, Any], body: str, report: ImportReport, label: str) -> bool:
    parts = [(s, p) for s, p in _split_unescaped(body, "=~") if s]
    if not parts:
        report.skip(label, "no answers")
        return False
    if all(s == "=" for s, _ in parts) and any("->" in p for _, p in parts):
        return _matching(q, parts, report, label)
    answers = []
    for sep, part in parts:
        text, feedback = _answer_and_feedback(part)
        weight = None
        if m := _WEIGHT.match(text.strip()):
            weight, text = float(m.group(1)), text.strip()[m.end() :]
        answers.append((sep, weight, _text(text), feedback))
    if all(sep == "=" for sep, *_ in answers):  # short answer
        accept = [t for _, w, t, _ in answers if (w is None or w >= 100) and t and t != "*"]
        if len(accept) < len(answers):
            report.skip(f"{label}: some answers", "partial credit and * wildcards are not kept")
        if not accept:
            report.skip(label, "no fully right answer")
            return False
        q["type"], q["accept"] = "short_text", accept
        return True
    weighted = any(w is not None and w > 0 for _, w, _, _ in answers)
    right = [i for i, (s, w, _, _) in enumerate(answers) if s == "=" or (w or 0) > 0]
    if not right:
        report.skip(label, "no right answer")
        return False
    q["choices"] = [
        {"id": f"c{i + 1}", **lang_field("text", t)} for i, (_, _, t, _) in enumerate(answers)
    ]
    if weighted and len(right) > 1:
        q["type"], q["answer"] = "multiple", [f"c{i + 1}" for i in right]
    else:
        q["type"], q["answer"] = "single", f"c{right[0] + 1}"
    if any(f for *_, f in answers):
        report.skip(f"{label}: per-answer feedback", "kept as right/wrong feedback only")
        _feedback(
            q, answers[right[0]][3], next((f for s, w, _, f in answers if f and s == "~"), "")
        )
    return True


def _matching(q: dict[str, Any], parts: list, report: ImportReport, label: str) -> bool:
    pairs: list[dict[str, Any]] = []
    for _, part in parts:
        left, _, right = part.partition("->")
        left, right = _text(left), _text(right)
        if not left:
            report.skip(f"{label}: answer {right!r}", "a matching answer without a pair is dropped")
            continue
        n = len(pairs) + 1
        pairs.append({"id": f"p{n}", **lang_field("text", left), **lang_field("match", right)})
    if len(pairs) < 2:
        report.skip(label, "a matching question needs two pairs")
        return False
    q["type"], q["pairs"] = "matching", pairs
    return True


def _question(block: str, report: ImportReport, n: int) -> dict[str, Any] | None:
    name = ""
    if block.startswith("::"):
        end = block.find("::", 2)
        if end > 0:
            name, block = block[2:end].strip(), block[end + 2 :]
    label = f"question {n}" + (f" ({name})" if name else "")
    start = _find(block, "{")
    end = _find(block, "}", start + 1) if start >= 0 else -1
    if start < 0 or end < 0:
        report.skip(label, "no answer block { } (a description, not a question)")
        return None
    prompt = _text(block[:start])
    if not prompt:
        report.skip(label, "no question text")
        return None
    q: dict[str, Any] = lang_field("prompt", prompt)
    body = block[start + 1 : end].strip()
    answer, *feedbacks = [p for _, p in _split_unescaped(body, "#")] or [""]
    token = answer.strip().upper()
    if not body:
        q["type"] = "essay"
    elif body.startswith("#"):
        if not _numeric(q, body, report, label):
            return None
    elif token in ("T", "TRUE", "F", "FALSE"):
        q["type"], q["answer"] = "true_false", token.startswith("T")
        wrong, right = (feedbacks + ["", ""])[:2]
        _feedback(q, right, wrong)
    elif not _choices(q, body, report, label):
        return None
    return q


def parse(text: str, report: ImportReport, default: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """Return (category, questions) groups read from a GIFT file's text."""
    groups: list[tuple[str, list[dict[str, Any]]]] = [(default, [])]
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("//")]
    blocks: list[str] = []
    current: list[str] = []
    for line in lines + [""]:
        if line.strip().startswith("$CATEGORY:"):
            if current:
                blocks.append("\n".join(current))
                current = []
            blocks.append(line.strip())
        elif line.strip():
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    n = 0
    for block in blocks:
        if block.startswith("$CATEGORY:"):
            name = block.split(":", 1)[1].strip().replace("$course$/", "").strip("/")
            groups.append((name.split("/")[-1] or default, []))
            continue
        n += 1
        if (q := _question(block.strip(), report, n)) is not None:
            groups[-1][1].append(q)
    return groups
