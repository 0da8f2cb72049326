"""What is tested is what ships: the locks in requirements/ agree with pyproject.toml and with
each other, the code imports only what it declares, the suite's virtualenv holds exactly the
lock (as ./dev.sh makes it), and the Pi bundle carries the lock's wheels for aarch64."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import distributions, packages_distributions, requires
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
TEST_LOCK = ROOT / "requirements" / "test.txt"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
CENTRAL_LOCK = ROOT / "requirements" / "central.txt"
PACKAGES = ("edge_server", "content_packs", "sync")


@dataclass
class Pin:
    version: str
    marker: str | None
    hashes: set[str] = field(default_factory=set)

    def applies(self) -> bool:
        return self.marker is None or Marker(self.marker).evaluate()


def read_lock(path: Path) -> dict[str, Pin]:
    """Return the pins of a lock written by ``uv pip compile --generate-hashes``, by name."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;\s*(.+?))?\s*\\?$", line)
        if pin:
            current = pins[canonicalize_name(pin.group(1))] = Pin(pin.group(2), pin.group(3))
            continue
        digest = re.match(r"\s+--hash=(sha256:[0-9a-f]{64})", line)
        if digest and current is not None:
            current.hashes.add(digest.group(1))
    return pins


def requirements(*extras: str, build: bool = False) -> list[Requirement]:
    project = PYPROJECT["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    if build:
        found += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    return found


def test_each_lock_pins_every_package_with_a_hash():
    for lock in (TEST_LOCK, RUNTIME_LOCK, CENTRAL_LOCK):
        pins = read_lock(lock)
        assert len(pins) > 30, lock
        assert [name for name, pin in pins.items() if not pin.hashes] == [], lock


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [
        (TEST_LOCK, requirements("test", "postgres", build=True)),
        (RUNTIME_LOCK, requirements()),
        (CENTRAL_LOCK, requirements("postgres", "central")),
    ],
    ids=["test", "runtime", "central"],
)
def test_lock_meets_every_requirement_of_pyproject(lock, wanted):
    """A requirement added or narrowed in pyproject.toml needs ./dev.sh lock."""
    pins = read_lock(lock)
    unmet = [
        f"{req} (locked: {pins[canonicalize_name(req.name)].version})"
        if canonicalize_name(req.name) in pins
        else f"{req} (not locked)"
        for req in wanted
        if canonicalize_name(req.name) not in pins
        or not req.specifier.contains(pins[canonicalize_name(req.name)].version, prereleases=True)
    ]
    assert unmet == [], f"run ./dev.sh lock: {unmet}"


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, CENTRAL_LOCK], ids=["runtime", "central"])
def test_shipped_lock_is_part_of_the_test_lock(lock):
    test_pins = read_lock(TEST_LOCK)
    shipped = read_lock(lock)
    differ = [
        name
        for name, pin in shipped.items()
        if name not in test_pins
        or test_pins[name].version != pin.version
        or not pin.hashes <= test_pins[name].hashes
    ]
    assert differ == []
    assert "pytest" not in shipped and "mypy" not in shipped


def test_central_lock_adds_the_postgres_driver_and_the_certificate_job():
    added = set(read_lock(CENTRAL_LOCK)) - set(read_lock(RUNTIME_LOCK))
    assert {"psycopg2-binary", "acme", "josepy", "dnspython"} <= added
    # What else comes in is what the ACME client needs, never a test or lint tool.
    assert not added & {"pytest", "mypy", "ruff", "playwright", "uv"}


def test_runtime_lock_holds_what_its_packages_require():
    """Each runtime pin's own requirements (as installed here) are pinned too."""
    runtime = read_lock(RUNTIME_LOCK)
    missing = []
    for name in runtime:
        for text in requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if canonicalize_name(req.name) not in runtime:
                missing.append(f"{name} needs {req}")
    assert missing == []


def third_party_imports() -> dict[str, set[str]]:
    """Return each top-level module the packages import that is not theirs or the stdlib."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in PACKAGES:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_code_imports_only_what_pyproject_declares():
    """A module reached only through another package's requirements is not declared."""
    declared = {canonicalize_name(r.name) for r in requirements("postgres", "central")}
    providers = packages_distributions()
    undeclared = {
        module: sorted(files)[0]
        for module, files in third_party_imports().items()
        if not {canonicalize_name(d) for d in providers.get(module, [])} & declared
    }
    assert undeclared == {}
    assert "flask" in third_party_imports()  # the walk found the imports


def test_virtualenv_holds_exactly_the_test_lock():
    """./dev.sh installs requirements/test.txt with --require-hashes and removes the rest."""
    pins = read_lock(TEST_LOCK)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    wrong = {
        name: (pin.version, installed.get(name))
        for name, pin in pins.items()
        if pin.applies() and installed.get(name) != pin.version
    }
    assert wrong == {}, "locked vs installed; ./dev.sh test reinstalls from the lock"
    assert set(installed) - set(pins) - {"kru"} == set()


def test_venv_prune_removes_what_the_lock_dropped(tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # A distribution installed once and since dropped from the lock.
    (site / "leftover.py").write_text("")
    info = site / "leftover-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: leftover\nVersion: 1.0\n")
    (info / "RECORD").write_text(
        "leftover.py,,\nleftover-1.0.dist-info/METADATA,,\nleftover-1.0.dist-info/RECORD,,\n"
    )
    listing = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "".join(
            f"{line} \\\n    --hash=sha256:{'0' * 64}\n"
            for line in listing.splitlines()
            if not line.startswith("leftover")
        )
    )
    result = subprocess.run(
        [python, ROOT / "tools" / "venv_prune.py", lock], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "removing leftover" in result.stderr
    assert not info.exists() and not (site / "leftover.py").exists()
    assert subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout == listing.replace("leftover==1.0\n", "")


def test_bundle_builder_needs_the_lock(tmp_path):
    script = tmp_path / "deploy" / "raspberrypi" / "build-bundle.sh"
    script.parent.mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "raspberrypi" / "build-bundle.sh", script)
    result = subprocess.run(
        [script, "--out", tmp_path / "out"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=60,
    )
    assert result.returncode == 1
    assert f"no {tmp_path}/requirements/runtime.txt (./dev.sh lock writes it)" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pi_bundle_carries_the_runtime_lock_as_aarch64_wheels(tmp_path):
    """Downloads the lock's wheels for CPython 3.11 on aarch64 from PyPI (about 20 MB)."""
    result = subprocess.run(
        [ROOT / "deploy" / "raspberrypi" / "build-bundle.sh", "--target", "pi", "--out", tmp_path],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    bundle = Path(result.stdout.strip())
    assert bundle.name == "kru-bundle-0.1.0-aarch64"
    shipped = {}
    for wheel in (bundle / "wheels").glob("*.whl"):
        name, version, _build, tags = parse_wheel_filename(wheel.name)
        shipped[name] = str(version)
        assert all(t.platform == "any" or t.platform.endswith("_aarch64") for t in tags), wheel.name
        assert any(t.interpreter in ("py3", "cp311") or t.abi == "abi3" for t in tags), wheel.name
        assert zipfile.is_zipfile(wheel)
    runtime = read_lock(RUNTIME_LOCK)
    expected = {name: pin.version for name, pin in runtime.items() if pin.applies()}
    assert shipped == {**expected, "kru": "0.1.0"}
    pinned = dict(
        line.split("==") for line in (bundle / "requirements.txt").read_text().splitlines()
    )
    assert {canonicalize_name(n): v for n, v in pinned.items()} == shipped
