"""Run on arm64 (the stand-in's Python 3.11 under qemu-user) with the Pi venv's site-packages
as the first argument: import every compiled module and every top-level package the bundle's
wheels installed, then use the compiled libraries Kru relies on. Prints one JSON object.

Run by tests/test_deploy_image_boot.py (issue 22 item 3); plain Python, no Kru imports.
"""

from __future__ import annotations

import importlib
import io
import json
import platform
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

SITE = Path(sys.argv[1])
sys.path.insert(0, str(SITE))
failed: dict[str, str] = {}
# Compiled modules that need what Raspberry Pi OS Lite does not have, and Kru never imports.
NOT_ON_A_PI = {"PIL._imagingtk": "Pillow's Tk bridge needs tkinter (desktop only)"}


def attempt(name: str, action: Callable[[], object]) -> object:
    try:
        return action()
    except Exception:
        failed[name] = traceback.format_exc(limit=3)
        return None


def module_name(path: Path) -> str | None:
    """``a/b/_c.cpython-311-aarch64-linux-gnu.so`` -> ``a.b._c``; None for a bundled library."""
    rel = path.relative_to(SITE)
    if any(p.endswith((".libs", ".dist-info", ".data")) or "-" in p for p in rel.parts[:-1]):
        return None
    return ".".join((*rel.parts[:-1], rel.name.split(".")[0]))


compiled = sorted(filter(None, (module_name(p) for p in SITE.rglob("*.so"))))
for name in compiled:
    if name not in NOT_ON_A_PI:
        attempt(name, lambda name=name: importlib.import_module(name))

packages = sorted(
    p.name if p.is_dir() else p.stem
    for p in SITE.iterdir()
    if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and "-" not in p.name)
)
for name in packages:
    attempt(name, lambda name=name: importlib.import_module(name))


def argon2() -> bool:
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    return hasher.verify(hasher.hash("lotus-pond-7"), "lotus-pond-7")


def ed25519() -> bool:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    key.public_key().verify(key.sign(b"kru"), b"kru")  # raises when wrong
    return True


def png() -> list[int]:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 40)).save(out, "PNG")
    return list(Image.open(io.BytesIO(out.getvalue())).getpixel((3, 3)))


def khmer_glyphs() -> list[int]:
    import uharfbuzz as hb

    font_file = next(SITE.rglob("NotoSansKhmer-Regular.ttf"))
    font = hb.Font(hb.Face(font_file.read_bytes()))
    buf = hb.Buffer()
    buf.add_str("សួស្តី")
    buf.guess_segment_properties()
    hb.shape(font, buf, {})
    return [info.codepoint for info in buf.glyph_infos]


def font_name() -> str:
    from fontTools.ttLib import TTFont

    return str(TTFont(next(SITE.rglob("NotoSansKhmer-Regular.ttf")))["name"].getDebugName(1))


def schema() -> bool:
    import jsonschema
    import rpds

    jsonschema.validate({"id": "p"}, {"type": "object", "required": ["id"]})
    return len(rpds.HashTrieMap({"a": 1}).insert("b", 2)) == 2


ran = {
    "argon2": attempt("run argon2", argon2),
    "ed25519": attempt("run cryptography", ed25519),
    "png": attempt("run pillow", png),
    "khmer_glyphs": attempt("run uharfbuzz", khmer_glyphs),
    "font_name": attempt("run fonttools", font_name),
    "nh3": attempt("run nh3", lambda: __import__("nh3").clean("<b>ok</b><script>x</script>")),
    "markupsafe": attempt("run markupsafe", lambda: str(__import__("markupsafe").escape("<"))),
    "charset": attempt(
        "run charset_normalizer",
        lambda: __import__("charset_normalizer").from_bytes("សួស្តី".encode()).best().encoding,
    ),
    "schema": attempt("run jsonschema", schema),
}
print(
    json.dumps(
        {
            "machine": platform.machine(),
            "python": platform.python_version(),
            "compiled": compiled,
            "packages": packages,
            "ran": ran,
            "failed": failed,
            "left_out": NOT_ON_A_PI,
        }
    )
)
