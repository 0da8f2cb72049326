"""List UI strings that have no Khmer translation in edge_server/web/translations/km/*.po.

Usage: ``.venv/bin/python tools/i18n_check.py`` (exit 1 and one line per missing string).
Strings are extracted the way Babel does (``_``, ``gettext``, ``lazy_gettext``, ``_l``,
``N_``, ``ngettext`` in Python; ``_()`` and ``{% trans %}`` in Jinja templates).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["edge_server", "content_packs", "sync"]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "_l": None,
    "N_": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
}
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def extracted() -> dict[str, str]:
    """Return every translatable msgid with the first place it appears."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        base = ROOT / package
        if not base.is_dir():
            continue
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
            str(base), METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {}}
        ):
            msgids = message if isinstance(message, tuple) else (message,)
            for msgid in msgids:
                if msgid:
                    found.setdefault(msgid, f"{package}/{filename}:{lineno}")
    return found


def translated() -> set[str]:
    ids: set[str] = set()
    for po in (ROOT / "edge_server" / "web" / "translations" / "km").glob("*.po"):
        with open(po, "rb") as fh:
            for message in read_po(fh, locale="km"):
                if message.id and message.string:
                    ids.add(message.id if isinstance(message.id, str) else message.id[0])
    return ids


def missing() -> list[tuple[str, str]]:
    have = translated()
    return sorted((where, msgid) for msgid, where in extracted().items() if msgid not in have)


def main() -> int:
    gaps = missing()
    for where, msgid in gaps:
        print(f"{where}: {msgid!r}")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
