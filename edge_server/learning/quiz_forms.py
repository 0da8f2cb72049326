"""Answers of matching and ordering questions read from the quiz page's form fields.

A matching question has one ``<select name="q-QID-PAIR">`` per pair; an ordering question
one ``<select name="q-QID-N">`` per position (1, 2, ...). No Flask import: ``form`` is any
mapping of field name to value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def parts_from_form(question: dict[str, Any], form: Mapping[str, str]) -> Any:
    """Return the answer of a matching (dict) or ordering (list) question, or None if blank."""
    qid = str(question["id"])
    if question.get("type") == "matching":
        chosen = {}
        for pair in question.get("pairs", []):
            value = (form.get(f"q-{qid}-{pair['id']}") or "").strip()
            if value:
                chosen[str(pair["id"])] = value
        return chosen or None
    order = []
    for n in range(1, len(question.get("choices", [])) + 1):
        value = (form.get(f"q-{qid}-{n}") or "").strip()
        if value:
            order.append(value)
    return order or None
