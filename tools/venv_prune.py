"""Uninstall from this virtualenv every distribution the lock file does not name.

./dev.sh runs it after `pip install -r LOCK`, which adds and upgrades but never removes: a
package dropped from the lock would otherwise linger and hide a missing dependency.
    python tools/venv_prune.py requirements/test.txt
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

# The project itself is installed from the source tree, not from the lock.
KEEP = {"kru"}


def normalize(name: str) -> str:
    """Return the PEP 503 form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names(lock: Path) -> set[str]:
    """Return the normalized names of the distributions pinned in a requirements lock."""
    names = set()
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==", line)
        if match:
            names.add(normalize(match.group(1)))
    return names


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: venv_prune.py LOCK", file=sys.stderr)
        return 2
    keep = locked_names(Path(argv[0])) | KEEP
    extra = sorted(
        {d.metadata["Name"] for d in distributions() if normalize(d.metadata["Name"]) not in keep}
    )
    if extra:
        print(f"venv_prune: removing {' '.join(extra)} (not in {argv[0]})", file=sys.stderr)
        subprocess.run(  # noqa: S603 - our own interpreter, names from its own metadata
            [sys.executable, "-m", "pip", "uninstall", "-q", "-y", *extra],
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
