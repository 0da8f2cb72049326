"""Every UI string has a Khmer translation, and the catalogs keep their placeholders."""

import importlib.util
import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _checker():
    spec = importlib.util.spec_from_file_location("i18n_check", ROOT / "tools" / "i18n_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_ui_string_has_a_khmer_translation():
    missing = _checker().missing()
    assert not missing, "untranslated (run tools/i18n_check.py): " + "; ".join(
        f"{where} {msgid!r}" for where, msgid in missing[:20]
    )


def test_translations_keep_every_placeholder():
    wrong = []
    for po in sorted((ROOT / "edge_server" / "web" / "translations" / "km").glob("*.po")):
        with open(po, "rb") as fh:
            for message in read_po(fh, locale="km"):
                if not message.id or not message.string or isinstance(message.id, tuple):
                    continue
                if sorted(PLACEHOLDER.findall(message.id)) != sorted(
                    PLACEHOLDER.findall(message.string)
                ):
                    wrong.append(f"{po.name}: {message.id!r}")
    assert not wrong, wrong


def test_khmer_translations_are_khmer():
    for po in sorted((ROOT / "edge_server" / "web" / "translations" / "km").glob("*.po")):
        with open(po, "rb") as fh:
            catalog = read_po(fh, locale="km")
        strings = [m.string for m in catalog if m.id and isinstance(m.string, str) and m.string]
        khmer = [s for s in strings if re.search("[\u1780-\u17ff]", s)]
        assert len(khmer) >= 0.8 * len(strings), f"{po.name} is mostly not Khmer"
