"""The layer list in docs/architecture.md is the import-linter contract, and it places every
package (issue 13). ``lint-imports`` checks the imports themselves."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c["id"] == "layers"]
    return [" ".join(layer.split()) for layer in layers["layers"]]


def _documented_layers() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- layers -->\s*```text\n(.*?)```", text, re.S)
    assert match, "docs/architecture.md lost its layer list"
    return [" ".join(line.split()) for line in match.group(1).splitlines() if line.strip()]


def test_the_documented_layers_are_the_contract():
    assert _documented_layers() == _contract_layers()


def _packages_and_modules(top: str) -> set[str]:
    base = ROOT / top
    found = {f"{top}.{p.name}" for p in base.iterdir() if (p / "__init__.py").is_file()}
    found |= {f"{top}.{p.stem}" for p in base.glob("*.py") if p.name != "__init__.py"}
    return found


def test_every_part_is_in_a_layer():
    placed = {name.strip() for layer in _contract_layers() for name in layer.split("|")}
    parts = _packages_and_modules("edge_server") | _packages_and_modules("sync")
    parts.add("content_packs")
    assert sorted(parts - placed) == []
