"""Rewrite imports, dotted names and paths in files to Kru's layered layout (issue 13).

Usage: ``.venv/bin/python tools/rewrite_imports.py [--moves LIST] FILE...`` (rewrites in
place, prints what changed), then ``ruff check --select I --fix FILE... && ruff format FILE...``.

The moves are listed in ``tools/module_moves.txt``, one ``old new`` pair a line: dotted
module, package or attribute names (``edge_server.db edge_server.base.db``) and paths of
other files and folders (``edge_server/templates edge_server/site/templates``). For each file:

- ``from X import a, b`` statements, absolute or relative, point at the new modules; a
  statement whose names moved to different modules is split, one line per module, with
  ``as`` keeping the old local name so the rest of the file need not change;
- dotted names anywhere else (``import x.y``, ``mock.patch("x.y.z")``, ``"x.y:attr"``,
  docstrings) follow the longest listed prefix;
- paths in strings and text (``edge_server/templates/learn/item.html``) likewise.

A relative import is read in the file's old package when the file itself moved (its new
place is looked up in the list backwards), so files written before the move can be passed
as they are, at their old or new place. Running it twice changes nothing the second time.
Paths joined with ``/`` operators in code (``ROOT / "edge_server" / "x"``) are not seen.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOVES = ROOT / "tools" / "module_moves.txt"
TOPS = ("edge_server", "content_packs", "sync")
_TOPS = "|".join(TOPS)
_DOTTED = re.compile(rf"(?<![\w.])((?:{_TOPS})(?:\.[A-Za-z_]\w*)+)")
_TEXT_IMPORT = re.compile(
    rf"(?<![\w.])()from ((?:{_TOPS})[\w.]*) import (\w+(?: as \w+)?(?:, *\w+(?: as \w+)?)*)"
)
_PATH = re.compile(rf"(?<![\w./-])((?:{_TOPS})/[\w./-]*\w)")


def load_moves(path: Path = MOVES) -> tuple[dict[str, str], dict[str, str]]:
    """Return (dotted moves, path moves) from the list; dotted moves also give path moves."""
    dotted: dict[str, str] = {}
    paths: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        old, new = line.split()
        if "/" in old:
            paths[old.rstrip("/")] = new.rstrip("/")
        else:
            dotted[old] = new
    for old, new in dotted.items():
        old_path, new_path = old.replace(".", "/"), new.replace(".", "/")
        if (ROOT / new_path).is_dir():
            paths.setdefault(old_path, new_path)
        elif (ROOT / f"{new_path}.py").is_file():
            target = new_path if (ROOT / new_path).is_dir() else f"{new_path}.py"
            paths.setdefault(f"{old_path}.py", target)
        elif (ROOT / new_path / "__init__.py").is_file():
            paths.setdefault(f"{old_path}.py", f"{new_path}/__init__.py")
    return dotted, paths


def _exists(module: str) -> bool:
    base = ROOT / module.replace(".", "/")
    return base.is_dir() or base.with_suffix(".py").is_file()


def _is_package(module: str) -> bool:
    return (ROOT / module.replace(".", "/")).is_dir()


def _top_names(module: str) -> set[str]:
    """Return the names a module (or package __init__) defines at top level.

    Imported names do not count: ``from . import passwords`` in a module that moved into a
    package whose ``__init__`` happens to import ``passwords`` is still an old import.
    """
    base = ROOT / module.replace(".", "/")
    source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


class Rewriter:
    def __init__(self, dotted: dict[str, str], paths: dict[str, str]) -> None:
        self.dotted = dotted
        self.paths = paths
        self.reverse = {new: old for old, new in dotted.items()}

    # --- names ----------------------------------------------------------------------------
    def map_name(self, name: str, old: bool = False) -> str:
        """Return ``name`` moved by its longest listed prefix (whole components only).

        ``old``: the name is known to be written for the old layout (an import that does
        not resolve now), so an old module now a package of the same name is the module.
        """
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix not in self.dotted:
                continue
            rest = parts[cut:]
            target = self.dotted[prefix]
            # An old module whose name is now a package (sync.modem): the package itself
            # or one of its modules is already new.
            if not old and target != prefix and _is_package(prefix):
                if not rest or _exists(f"{prefix}.{rest[0]}"):
                    return name
            return ".".join([target, *rest])
        return name

    def old_module(self, module: str) -> str:
        """Return the name ``module`` had before the moves (itself if it did not move)."""
        if module in self.reverse:
            return self.reverse[module]
        parts = module.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in self.reverse and _is_package(prefix):
                return ".".join([self.reverse[prefix], *parts[cut:]])
        return module

    # --- text -----------------------------------------------------------------------------
    def text(self, source: str) -> str:
        source = _TEXT_IMPORT.sub(self._text_import, source)
        source = _DOTTED.sub(lambda m: self.map_name(m.group(1)), source)
        return _PATH.sub(lambda m: self.map_path(m.group(1)), source)

    def _text_import(self, match: re.Match[str]) -> str:
        """Rewrite ``from X import a, b`` written in a string (a script run by a test)."""
        indent, module, names = match.group(1), match.group(2), match.group(3)
        aliases = [n.strip() for n in names.split(",") if n.strip()]
        plain = [a.split(" as ")[0].strip() for a in aliases]
        if self._new_ok(module, plain):
            return match.group(0)
        groups: dict[str, list[str]] = {}
        for alias in aliases:
            name, _, asname = (part.strip() for part in alias.partition(" as "))
            parent, _, leaf = self.map_name(f"{module}.{name}", old=True).rpartition(".")
            local = asname or name
            groups.setdefault(parent, []).append(leaf if leaf == local else f"{leaf} as {local}")
        return "; ".join(f"{indent}from {t} import {', '.join(s)}" for t, s in groups.items())

    def map_path(self, path: str) -> str:
        parts = path.split("/")
        for cut in range(len(parts), 0, -1):
            prefix = "/".join(parts[:cut])
            if prefix in self.paths:
                return "/".join([self.paths[prefix], *parts[cut:]])
        return path

    # --- imports --------------------------------------------------------------------------
    def python(self, source: str, module: str, is_package: bool) -> str:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return self.text(source)
        new_pkg = module if is_package else module.rpartition(".")[0]
        old = self.old_module(module)
        old_pkg = old if is_package else old.rpartition(".")[0]
        if is_package and self.dotted.get(module) == module:
            old_pkg = module.rpartition(".")[0]  # a module that became its package's __init__
        lines = source.splitlines(keepends=True)
        edits: list[tuple[int, int, str]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                replacement = self._import_from(node, lines, new_pkg, old_pkg)
                if replacement is not None:
                    edits.append((node.lineno - 1, node.end_lineno or node.lineno, replacement))
        skip: set[int] = set()
        for start, end, text in sorted(edits, reverse=True):
            lines[start:end] = [text]
            skip.add(start)
        out = []
        for number, line in enumerate(lines):
            out.append(line if number in skip else self.text(line))
        return "".join(out)

    @staticmethod
    def _resolve(level: int, module: str | None, package: str) -> str | None:
        if level == 0:
            return module
        parts = package.split(".") if package else []
        if level - 1 > len(parts) - 1:
            return None
        base = parts[: len(parts) - (level - 1)]
        return ".".join([*base, *([module] if module else [])])

    def _new_ok(self, base: str | None, names: list[str]) -> bool:
        """Return whether ``from base import names`` already names what exists now."""
        if base is None or not _exists(base):
            return False
        defined = _top_names(base)
        for name in names:
            full = f"{base}.{name}"
            if full in self.dotted and self.dotted[full] != full and _is_package(full):
                return False  # an old module now a package of the same name (sync.modem)
            if not (_exists(full) or name in defined or name == "*"):
                return False
        return True

    def _import_from(
        self, node: ast.ImportFrom, lines: list[str], new_pkg: str, old_pkg: str
    ) -> str | None:
        names = [a.name for a in node.names]
        base_new = self._resolve(node.level, node.module, new_pkg)
        if base_new is not None and base_new.split(".")[0] in TOPS:
            if self._new_ok(base_new, names):
                return None
        elif node.level == 0:
            return None  # another library
        base_old = self._resolve(node.level, node.module, old_pkg)
        if base_old is None or base_old.split(".")[0] not in TOPS:
            return None
        groups: dict[str, list[str]] = {}
        for alias in node.names:
            parent, _, leaf = self.map_name(f"{base_old}.{alias.name}", old=True).rpartition(".")
            local = alias.asname or alias.name
            groups.setdefault(parent, []).append(leaf if leaf == local else f"{leaf} as {local}")
        original = "".join(lines[node.lineno - 1 : node.end_lineno])
        relative = node.level > 0
        if len(groups) == 1:
            ((target, specs),) = groups.items()
            kept = [a.name if a.asname is None else f"{a.name} as {a.asname}" for a in node.names]
            head = re.match(r"(\s*from\s+)([\w.]+)(\s+import\b)", original)
            if specs == kept and head:
                spelled = self._spell(target, new_pkg, relative)
                return (
                    None
                    if spelled == head.group(2)
                    else (head.group(1) + spelled + original[head.end(2) :])
                )
        first = lines[node.lineno - 1]
        indent = first[: len(first) - len(first.lstrip())]
        return "".join(
            f"{indent}from {self._spell(target, new_pkg, relative)} import {', '.join(specs)}\n"
            for target, specs in groups.items()
        )

    @staticmethod
    def _spell(target: str, package: str, relative: bool) -> str:
        """Return ``target`` as seen from ``package``: relative when it was and can be."""
        if not relative or not package or target.split(".")[0] != package.split(".")[0]:
            return target
        tparts, pparts = target.split("."), package.split(".")
        common = 0
        while common < min(len(tparts), len(pparts)) and tparts[common] == pparts[common]:
            common += 1
        dots = "." * (len(pparts) - common + 1)
        return dots + ".".join(tparts[common:])


def module_name(path: Path) -> tuple[str, bool]:
    relative = path.resolve().relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def rewrite_file(path: Path, rewriter: Rewriter) -> bool:
    """Rewrite ``path`` in place; return whether it changed."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        module, is_package = module_name(path)
        result = rewriter.python(source, module, is_package)
    else:
        result = rewriter.text(source)
    if result == source:
        return False
    path.write_text(result, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    moves = MOVES
    if argv[:1] == ["--moves"]:
        moves, argv = Path(argv[1]), argv[2:]
    rewriter = Rewriter(*load_moves(moves))
    for name in argv:
        path = Path(name)
        if rewrite_file(path, rewriter):
            print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
