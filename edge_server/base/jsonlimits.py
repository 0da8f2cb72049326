"""Parse JSON from outside with a bound on nesting (no Flask here).

Python's parser recurses once per level: JSON nested 5,000 deep made it raise
RecursionError, which is not a ValueError, so every endpoint that read such a body
answered 500 (issue 12). A value nested a few hundred deep parses but then breaks
``json.dumps`` or a schema check further on. Kru's own documents (events, sign-in, sync
batch lines, pack manifests) are at most about ten levels deep, so anything deeper than
``MAX_DEPTH`` is refused as malformed.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class JSONTooDeep(ValueError):
    """The JSON is nested deeper than allowed (a ValueError, as for any malformed JSON)."""


def _openers(data: str | bytes | bytearray) -> int:
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def depth_exceeds(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Return whether ``value`` holds lists or dicts nested more than ``max_depth`` deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(data: str | bytes | bytearray, max_depth: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """Return the JSON value in ``data``.

    Raises:
        JSONTooDeep: the value is nested more than ``max_depth`` deep.
        ValueError: ``data`` is not JSON (``json.JSONDecodeError``, ``UnicodeDecodeError``).
    """
    try:
        value = json.loads(data, **kwargs)
    except RecursionError as exc:
        raise JSONTooDeep(f"JSON nested more than {max_depth} deep") from exc
    # Counting brackets runs at C speed; only a document with enough of them is walked.
    if _openers(data) > max_depth and depth_exceeds(value, max_depth):
        raise JSONTooDeep(f"JSON nested more than {max_depth} deep")
    return value
