#!/usr/bin/env bash
# The dev loop in one file. README and .ci/run call these targets, so they cannot drift.
#   ./dev.sh demo [kru demo options]   install into .venv and serve demo data
#   ./dev.sh test [pytest options]     install test dependencies and run the whole suite
#   ./dev.sh lint                      ruff check + ruff format --check, mypy, lint-imports
#   ./dev.sh lock [--upgrade | --upgrade-package NAME ...]
#                                      pin the dependencies again into requirements/*.txt
#   ./dev.sh bench [--quick]           build a benchmark site, load it with wrk, write bench/results
set -euo pipefail
cd "$(dirname "$0")"

VENV=${KRU_VENV:-.venv}
PY=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '==> %s\n' "$*" >&2; }

need_python() {
    if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "dev.sh: Python 3.11 or newer is needed (set PYTHON=...)" >&2
        exit 1
    fi
    if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
        apt_install python3-venv
    fi
}

apt_install() {
    # Install the named Debian packages that are not there yet.
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "apt-get install ${missing[*]}"
        $SUDO apt-get update -qq || true
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# The locks (written by ./dev.sh lock, never by hand): exact versions with hashes.
# requirements/test.txt: runtime + test + postgres + lint tools + the build backend, what the
# virtualenv holds. requirements/runtime.txt: the runtime part of it, what the Pi bundle ships.
# requirements/central.txt: runtime + postgres, for the central server.
LOCK=requirements/test.txt
RUNTIME_LOCK=requirements/runtime.txt
CENTRAL_LOCK=requirements/central.txt

venv() {
    # The virtualenv holds exactly the lock, then Kru itself (editable, no dependencies).
    need_python
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-lock" want
    want=$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
        log "pip install --require-hashes -r $LOCK"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$LOCK"
        # -qq: setuptools warns about every editable install; errors still show.
        "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --no-deps \
            --no-build-isolation -e .
        "$VENV/bin/python" tools/venv_prune.py "$LOCK"
        echo "$want" > "$stamp"
    fi
}

start_postgres() {
    # The central server's tests use the machine's PostgreSQL on 127.0.0.1:5432.
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
            log "starting PostgreSQL"
            $SUDO pg_ctlcluster --skip-systemctl-redirect "$(basename "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)")" main start || true
        fi
    fi
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='kru_test'" 2>/dev/null | grep -q 1 \
            || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE kru_test" >/dev/null 2>&1 || true
        export KRU_TEST_DATABASE_URL=${KRU_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/kru_test}
    fi
}

cmd_demo() {
    venv
    exec "$VENV/bin/kru" demo "$@"
}

cmd_lint() {
    venv
    local rc=0
    "$VENV/bin/ruff" check . || rc=1
    "$VENV/bin/ruff" format --check . || rc=1
    "$VENV/bin/mypy" || rc=1
    "$VENV/bin/lint-imports" --no-logo --no-cache || rc=1
    return "$rc"
}

cmd_lock() {
    # Pin every dependency (and the build backend) for Python 3.11+ on any platform, with
    # hashes; then the runtime and central parts at the same versions, binary wheels only
    # (no compiler on a Pi or a server); then check that each runtime pin has a wheel for the
    # Pi (CPython 3.11, aarch64, glibc 2.36). Options (--upgrade, --upgrade-package NAME) go
    # to every compile.
    venv
    local uv="$VENV/bin/uv"
    local common=(--universal --python-version 3.11 --generate-hashes --quiet
        --custom-compile-command "./dev.sh lock")
    # The build backend too (from stdin), so `pip install --no-build-isolation -e .` above
    # needs nothing from outside the lock.
    local build_requires='import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
    "$VENV/bin/python" -c "$build_requires" \
        | "$uv" pip compile "${common[@]}" "$@" --extra test --extra postgres \
            pyproject.toml - -o "$LOCK"
    "$uv" pip compile "${common[@]}" "$@" --only-binary :all: -c "$LOCK" \
        pyproject.toml -o "$RUNTIME_LOCK"
    "$uv" pip compile "${common[@]}" "$@" --only-binary :all: -c "$LOCK" --extra postgres --extra central \
        pyproject.toml -o "$CENTRAL_LOCK"
    "$uv" pip compile --quiet --no-header --python-version 3.11 --only-binary :all: \
        --python-platform aarch64-manylinux_2_36 --no-deps "$RUNTIME_LOCK" -o /dev/null \
        || { echo "dev.sh: a runtime package has no wheel for the Pi (see above)" >&2; exit 1; }
    log "wrote $LOCK, $RUNTIME_LOCK and $CENTRAL_LOCK"
}

axe_core() {
    # axe-core for the browser tests' accessibility checks: from the npm registry into the
    # virtualenv, injected into pages from there (never fetched by a test).
    if [ ! -f "$VENV/npm/node_modules/axe-core/axe.min.js" ]; then
        command -v npm >/dev/null 2>&1 || apt_install npm
        log "npm install axe-core"
        npm install --prefix "$VENV/npm" --no-save --no-audit --no-fund --no-package-lock \
            axe-core@4 >/dev/null
    fi
}

ralph_venv() {
    # Ralph (the LRS and xAPI validator of the central tests) pins dependencies that conflict
    # with Kru's, so it gets .venv-ralph of its own, outside the lock (tests/ralph_support.py).
    # Made here, before pytest, so its install does not count against a test's timeout.
    "$VENV/bin/python" -c 'from tests.ralph_support import ralph_venv; ralph_venv()'
}

cmd_test() {
    # System packages the suite drives for real: Chromium for browser tests, shellcheck and
    # systemd-analyze for the deploy scripts, debootstrap for the installer test, ffmpeg for media,
    # poppler-utils (pdftotext) for the certificate PDF; FUSE file systems for USB sticks as
    # images and node for the polkit rule (issue 19); QEMU, mmdebstrap, binfmt, mtools, parted
    # and e2fsprogs to build and boot a Pi image (issue 22).
    apt_install chromium shellcheck debootstrap systemd ffmpeg postgresql-client iproute2 wrk \
        pebble bind9 bind9-utils nginx hitch libnss3-tools openssl poppler-utils sqlite3 \
        fusefat exfat-fuse exfatprogs ntfs-3g dosfstools fuse3 nodejs \
        qemu-system-arm qemu-user-static binfmt-support arch-test mmdebstrap mtools \
        parted e2fsprogs xz-utils
    venv
    axe_core
    ralph_venv
    start_postgres
    set +e
    # Lint first but run the tests anyway, so one run shows every problem.
    (cmd_lint)
    local lint_rc=$?
    "$VENV/bin/python" -m pytest "$@"
    local rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then
        echo "dev.sh: pytest collected no tests; that is a failure here" >&2
        exit 1
    fi
    if [ "$lint_rc" -ne 0 ]; then
        echo "dev.sh: lint found problems (see above)" >&2
        [ "$rc" -eq 0 ] && rc=$lint_rc
    fi
    if [ "$rc" -eq 0 ] && [ "${CI:-}" = "true" ]; then
        # Keep the benchmarks from rotting; the figures of a quick run are not compared.
        "$VENV/bin/python" -m bench --quick --no-docs || rc=$?
    fi
    exit "$rc"
}

cmd_bench() {
    apt_install wrk
    venv
    start_postgres
    exec "$VENV/bin/python" -m bench "$@"
}

case "${1:-}" in
    demo) shift; cmd_demo "$@" ;;
    test) shift; cmd_test "$@" ;;
    lint) shift; cmd_lint ;;
    lock) shift; cmd_lock "$@" ;;
    bench) shift; cmd_bench "$@" ;;
    *) echo "usage: ./dev.sh demo|test|lint|lock|bench [args]" >&2; exit 2 ;;
esac
