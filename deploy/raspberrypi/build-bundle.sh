#!/usr/bin/env bash
# Build the offline bundle a Pi installs from: Kru's wheel, a wheel of every dependency for the
# target at the version and hash of requirements/runtime.txt (the lock the test suite runs
# with), install.sh, the systemd units, hotspot templates and site-care files, with checksums.
#   deploy/raspberrypi/build-bundle.sh [--target pi|host] [--out DIR] [--debs DIR] [--tar]
#                                      [--release-key FILE.pub ...]
#     --target pi    Raspberry Pi OS 64-bit: aarch64 wheels for CPython 3.11 (default)
#     --target host  this machine's architecture (tests, a PC running Debian)
#     --out DIR      where kru-bundle-VERSION-ARCH/ is written (default: ./dist)
#     --debs DIR     also carry the .deb files in DIR for offline sites: hostapd dnsmasq nginx
#                    sqlite3 polkitd ntfs-3g and what they need (docs/device-admin-guide.md)
#     --tar          also write kru-bundle-VERSION-ARCH.tar.gz (what `kru release sign` signs)
#     --release-key F  a release public key (one base64 line, from `kru release keygen`) the
#                    Pi will trust for upgrades, besides those in deploy/raspberrypi/release-keys/
# Needs Python 3.11+ with pip and access to PyPI (or a pip mirror) on the building machine.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LOCK=$ROOT/requirements/runtime.txt
PY=${PYTHON:-python3}
TARGET=pi
OUT=$PWD/dist
DEBS=""
TAR=0
KEYS=()

die() { printf 'build-bundle: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'build-bundle: %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --target) TARGET=${2:-}; shift 2 ;;
        --out) OUT=${2:-}; shift 2 ;;
        --debs) DEBS=${2:-}; shift 2 ;;
        --tar) TAR=1; shift ;;
        --release-key) KEYS+=("${2:-}"); shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

case "$TARGET" in
    pi) ARCH=aarch64 ;;
    host) ARCH=$(uname -m) ;;
    *) die "--target must be pi or host, not '$TARGET'" ;;
esac
for key in "${KEYS[@]}"; do
    if [ ! -f "$key" ] || [[ $key != *.pub ]]; then die "--release-key $key is not a .pub file"; fi
done
if [ -n "$DEBS" ] && ! compgen -G "$DEBS/*.deb" >/dev/null; then
    die "--debs $DEBS holds no .deb files"
fi
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "Python 3.11 or newer is needed (set PYTHON=...)"
[ -f "$LOCK" ] || die "no $LOCK (./dev.sh lock writes it)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Build Kru's wheel from a copy, so the source tree gets no build/ or egg-info.
say "building the Kru wheel"
mkdir "$work/src"
cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$work/src/"
for pkg in edge_server content_packs sync; do
    cp -r "$ROOT/$pkg" "$work/src/$pkg"
done
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/kru-wheel" "$work/src"
kru_wheel=$(ls "$work"/kru-wheel/kru-*.whl)
VERSION=$(basename "$kru_wheel" | cut -d- -f2)

name="kru-bundle-$VERSION-$ARCH"
stage="$work/$name"
mkdir -p "$stage/wheels"
cp "$kru_wheel" "$stage/wheels/"

# Every dependency as a binary wheel for CPython 3.11 on glibc Linux of the target machine
# (Debian bookworm has glibc 2.36, so manylinux_2_17 ... manylinux_2_36 all run), exactly the
# versions of the lock, each file checked against the lock's hashes. The lock holds pip, which
# install.sh runs straight from its wheel.
target=(--only-binary=:all: --python-version 3.11 --implementation cp
    --platform "linux_$ARCH" --platform "manylinux2014_$ARCH")
for minor in $(seq 17 36); do target+=(--platform "manylinux_2_${minor}_$ARCH"); done
say "downloading the wheels of $(basename "$LOCK") for $ARCH"
"$PY" -m pip download --quiet --disable-pip-version-check --dest "$stage/wheels" \
    "${target[@]}" --no-deps --require-hashes -r "$LOCK" \
    || die "pip could not fetch a wheel of $LOCK for $ARCH (see above)"
# Kru's own requirements must be met by these wheels alone, as install.sh will ask of them.
"$PY" -m pip download --quiet --disable-pip-version-check --dest "$work/check" --no-index \
    --find-links "$stage/wheels" "${target[@]}" "$stage/wheels/$(basename "$kru_wheel")" \
    || die "$LOCK lacks a dependency of Kru (run ./dev.sh lock)"

# Exact pins from the wheel names, so install.sh installs exactly this set.
for whl in "$stage"/wheels/*.whl; do
    base=$(basename "$whl")
    printf '%s==%s\n' "$(echo "$base" | cut -d- -f1)" "$(echo "$base" | cut -d- -f2)"
done | sort > "$stage/requirements.txt"

cp "$HERE/install.sh" "$stage/"
cp "$HERE/README.md" "$stage/"
cp -r "$HERE/systemd" "$HERE/hotspot" "$HERE/system" "$HERE/bin" "$HERE/tls" "$stage/"
# The release keys the Pi trusts (install.sh puts them in /etc/kru/release-keys).
mkdir "$stage/release-keys"
for key in "$HERE"/release-keys/*.pub "${KEYS[@]}"; do
    if [ -f "$key" ]; then cp "$key" "$stage/release-keys/"; fi
done
if [ -n "$DEBS" ]; then
    mkdir "$stage/debs"
    cp "$DEBS"/*.deb "$stage/debs/"
fi
echo "$VERSION" > "$stage/VERSION"
echo "$ARCH" > "$stage/ARCH"
(cd "$stage" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum) \
    > "$work/SHA256SUMS"
mv "$work/SHA256SUMS" "$stage/SHA256SUMS"

rm -rf "${OUT:?}/$name"
mv "$stage" "$OUT/$name"
if [ "$TAR" -eq 1 ]; then
    tar -C "$OUT" -czf "$OUT/$name.tar.gz" "$name"
fi
say "wrote $OUT/$name ($(du -sh "$OUT/$name" | cut -f1))"
echo "$OUT/$name"
