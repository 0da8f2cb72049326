"""Say in plain words what a manifest's JSON Schema error means (no regexes, no Python reprs).

jsonschema's own messages ("'Bad Id' does not match '^[a-z0-9][a-z0-9-]{0,63}$'") are for
programmers; an instructor uploading a pack needs "must be a short name of lowercase
letters, digits and hyphens". Each message is an English template marked for translation,
with the place in the manifest (``manifest.courses[0].slug``) and the value found.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from edge_server.base.errors import N_

from .errors import Problem

MANIFEST = "manifest.json"
MAX_VALUE_CHARS = 60

TYPE_MESSAGES = {
    "string": N_("%(where)s must be text in quotes"),
    "integer": N_("%(where)s must be a whole number"),
    "number": N_("%(where)s must be a number"),
    "boolean": N_("%(where)s must be true or false"),
    "object": N_("%(where)s must be a group of fields in { }"),
    "array": N_("%(where)s must be a list in [ ]"),
}


@cache
def _pattern_messages(schema_json: str) -> dict[str, str]:
    """Return {pattern: message template} for the patterns the manifest schema uses."""
    import json

    schema = json.loads(schema_json)
    defs = schema["$defs"]
    return {
        defs["slug"]["pattern"]: N_(
            "%(where)s must be a short name of lowercase letters a-z, digits and hyphens "
            "(starting with a letter or digit, at most 64 characters), not %(value)s"
        ),
        schema["properties"]["version"]["pattern"]: N_(
            "%(where)s must be a version number such as 1.0.0 or 2.1.0-beta.1, not %(value)s"
        ),
        schema["properties"]["language"]["pattern"]: N_(
            "%(where)s must be a language code such as km or en, not %(value)s"
        ),
        defs["path"]["pattern"]: N_(
            "%(where)s must be a path inside the zip with forward slashes, not starting "
            "with / and without .. parts, not %(value)s"
        ),
        defs["file"]["properties"]["sha256"]["pattern"]: N_(
            "%(where)s must be a sha256 checksum: 64 characters 0-9 and a-f, not %(value)s"
        ),
    }


def json_path(path: Any) -> str:
    """Return a place in the manifest as ``manifest.courses[0].modules[1].slug``."""
    parts = ["manifest"]
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts)


def shown(value: Any) -> str:
    """Return ``value`` as a reader sees it in a message: quoted text, cut when long."""
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _at(manifest: Any, path: Any) -> Any:
    for part in path:
        try:
            manifest = manifest[part]
        except (KeyError, IndexError, TypeError):
            return None
    return manifest


def problems_for(error: Any, manifest: Any, schema_json: str) -> list[Problem]:
    """Return the plain-word problems for one jsonschema ``ValidationError``."""
    where = json_path(error.absolute_path)
    keyword = error.validator
    instance = error.instance
    value = error.validator_value

    def problem(template: str, **params: Any) -> Problem:
        return Problem("manifest_schema", template, MANIFEST, {"where": where, **params})

    if keyword == "required":
        missing = [f for f in value if isinstance(instance, dict) and f not in instance]
        return [problem(N_("%(where)s is missing the field %(field)s"), field=f) for f in missing]
    if keyword == "additionalProperties":
        known = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        extra = [
            k
            for k in (instance if isinstance(instance, dict) else {})
            if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        return [
            problem(N_("%(where)s has a field Kru does not know: %(field)s"), field=k)
            for k in extra
        ]
    if keyword == "enum" and "propertyNames" in error.schema_path:
        item = _at(manifest, error.absolute_path)
        kind = item.get("type") if isinstance(item, dict) else "?"
        return [
            problem(
                N_("%(where)s: a %(type)s item cannot have the field %(field)s"),
                type=kind,
                field=instance,
            )
        ]
    if keyword == "enum":
        choices = ", ".join(str(v) for v in value)
        return [
            problem(
                N_("%(where)s must be one of %(choices)s, not %(value)s"),
                choices=choices,
                value=shown(instance),
            )
        ]
    if keyword == "const":
        return [problem(N_("%(where)s must be %(expected)s"), expected=shown(value))]
    if keyword == "type" and value in TYPE_MESSAGES:
        return [problem(TYPE_MESSAGES[value])]
    if keyword == "pattern":
        template = _pattern_messages(schema_json).get(
            value, N_("%(where)s is not written the way Kru expects: %(value)s")
        )
        return [problem(template, value=shown(instance))]
    if keyword in ("minLength", "minItems", "minProperties") and value == 1:
        return [problem(N_("%(where)s must not be empty"))]
    if keyword == "minLength":
        return [problem(N_("%(where)s must have at least %(count)s characters"), count=value)]
    if keyword == "maxLength":
        return [problem(N_("%(where)s must have at most %(count)s characters"), count=value)]
    if keyword == "minItems":
        return [problem(N_("%(where)s must list at least %(count)s entries"), count=value)]
    if keyword == "minimum":
        return [problem(N_("%(where)s must be %(count)s or more"), count=value)]
    if keyword == "oneOf":
        return [problem(N_("%(where)s must be a file path inside the zip, or null"))]
    return [problem(N_("%(where)s is not allowed here"))]
