"""Validate xAPI statements with Ralph's models (run by the Python of the Ralph venv).

Reads a JSON list of statements on stdin and writes a JSON list with, for each statement,
the list of Ralph's validation errors (empty: valid). Not imported by Kru or pytest: the
tests run it with ``.venv-ralph/bin/python`` (tests/ralph_support.py), so Ralph's pinned
dependencies never meet Kru's.
"""

import json
import sys

from pydantic import ValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement


def errors_of(statement: object) -> list[str]:
    try:
        BaseXapiStatement.model_validate(statement)
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


def main() -> None:
    statements = json.load(sys.stdin)
    json.dump([errors_of(s) for s in statements], sys.stdout)


if __name__ == "__main__":
    main()
