#!/usr/bin/env bash
# Make a Kru image from an official Raspberry Pi OS Lite 64-bit image (bookworm or later):
# the offline bundle goes to /opt/kru-bundle, and units that install Kru and apply
# kru-setup.toml at first boot are enabled. Flash the result with Raspberry Pi Imager.
#   sudo deploy/raspberrypi/build-image.sh --image RASPIOS.img[.xz] --bundle DIR --out KRU.img
#        [--setup kru-setup.toml] [--force]
#   deploy/raspberrypi/build-image.sh --bundle DIR --stage-only DIR   (no image, no root)
# Needs root, losetup, mount and xz for the image steps. Nothing secret goes into the image:
# no data directory, no keys, an empty machine-id; each Pi makes its own at first boot.
set -euo pipefail

IMAGE=""
BUNDLE=""
OUT=""
SETUP=""
STAGE_ONLY=""
FORCE=0

die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'build-image: %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --image) IMAGE=${2:-}; shift 2 ;;
        --bundle) BUNDLE=${2:-}; shift 2 ;;
        --out) OUT=${2:-}; shift 2 ;;
        --setup) SETUP=${2:-}; shift 2 ;;
        --stage-only) STAGE_ONLY=${2:-}; shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[ -n "$BUNDLE" ] || die "--bundle DIR is needed (make one with build-bundle.sh --target pi)"
if [ ! -f "$BUNDLE/install.sh" ] || [ ! -f "$BUNDLE/SHA256SUMS" ]; then
    die "$BUNDLE is not a Kru bundle (no install.sh or SHA256SUMS)"
fi
(cd "$BUNDLE" && sha256sum --quiet --strict -c SHA256SUMS) || die "the bundle $BUNDLE is damaged"
if [ -z "$STAGE_ONLY" ]; then
    [ "$(cat "$BUNDLE/ARCH")" = "aarch64" ] \
        || die "the bundle is for $(cat "$BUNDLE/ARCH"), a Pi needs --target pi (aarch64)"
    [ -n "$IMAGE" ] || die "--image is needed: the Raspberry Pi OS Lite 64-bit image (.img or .img.xz)"
    [ -f "$IMAGE" ] || die "no image file $IMAGE"
    [ -n "$OUT" ] || die "--out is needed: the image file to write"
    [ ! -e "$OUT" ] || [ "$FORCE" -eq 1 ] || die "$OUT exists; add --force to replace it"
    [ "$(id -u)" -eq 0 ] || die "run as root (loop devices and mounts need it): sudo $0 ..."
fi
if [ -n "$SETUP" ]; then
    [ -f "$SETUP" ] || die "no setup file $SETUP"
    case "$(basename "$SETUP")" in
        kru-setup.toml) ;;
        *) die "the setup file must be named kru-setup.toml" ;;
    esac
fi

# --- the staging tree: exactly what is added to the image
stage_tree() {
    local stage=$1
    mkdir -p "$stage/rootfs/opt" "$stage/rootfs/etc/systemd/system/multi-user.target.wants" "$stage/boot"
    cp -r "$BUNDLE" "$stage/rootfs/opt/kru-bundle"
    local unit
    for unit in kru-install.service kru-firstboot.service kru.service kru-sync.service kru-wlan.service; do
        cp "$BUNDLE/systemd/$unit" "$stage/rootfs/etc/systemd/system/$unit"
        ln -sf "/etc/systemd/system/$unit" "$stage/rootfs/etc/systemd/system/multi-user.target.wants/$unit"
    done
    cp "$BUNDLE/system/kru-setup.toml.example" "$stage/boot/kru-setup.toml.example"
    if [ -n "$SETUP" ]; then cp "$SETUP" "$stage/boot/kru-setup.toml"; fi
}

if [ -n "$STAGE_ONLY" ]; then
    [ ! -e "$STAGE_ONLY" ] || [ -z "$(ls -A "$STAGE_ONLY")" ] || die "$STAGE_ONLY is not empty"
    stage_tree "$STAGE_ONLY"
    say "staged the image additions in $STAGE_ONLY"
    exit 0
fi

for tool in losetup mount umount xz partprobe; do
    command -v "$tool" >/dev/null || die "$tool is needed (apt-get install util-linux xz-utils parted)"
done
work=$(mktemp -d)
loop=""
cleanup() {
    set +e
    mountpoint -q "$work/root/boot/firmware" && umount "$work/root/boot/firmware"
    mountpoint -q "$work/root" && umount "$work/root"
    [ -n "$loop" ] && losetup -d "$loop"
    rm -rf "$work"
    rm -f "$OUT.partial"
}
trap cleanup EXIT

say "1/6 copying $IMAGE to $OUT"
case "$IMAGE" in
    *.xz) xz -dc "$IMAGE" > "$OUT.partial" ;;
    *) cp --sparse=always "$IMAGE" "$OUT.partial" ;;
esac

say "2/6 attaching the image to a loop device"
loop=$(losetup --find --show --partscan "$OUT.partial")
if [ ! -b "${loop}p1" ] || [ ! -b "${loop}p2" ]; then
    die "$IMAGE has no boot and root partitions"
fi

say "3/6 mounting the root and boot partitions"
mkdir -p "$work/root"
mount "${loop}p2" "$work/root"
mkdir -p "$work/root/boot/firmware"
mount "${loop}p1" "$work/root/boot/firmware"
grep -Eq '^VERSION_CODENAME=(bookworm|trixie)' "$work/root/etc/os-release" \
    || die "this is not Raspberry Pi OS bookworm or later"
[ -d "$work/root/usr/lib/aarch64-linux-gnu" ] || die "this is not a 64-bit (arm64) image"
need=$(( $(du -sk "$BUNDLE" | cut -f1) * 3 + 102400 ))
free=$(df -k --output=avail "$work/root" | tail -n 1)
[ "$free" -gt "$need" ] || die "the root partition has ${free} KiB free, ${need} KiB needed"

say "4/6 adding the bundle and the first-boot units"
stage_tree "$work/stage"
cp -a "$work/stage/rootfs/." "$work/root/"
cp "$work/stage/boot/"* "$work/root/boot/firmware/"

say "5/6 removing anything that would make two Pis alike"
: > "$work/root/etc/machine-id"   # systemd makes a new one at first boot
rm -rf "$work/root/var/lib/kru" "$work/root/opt/kru" "$work/root/etc/kru"
sync

say "6/6 detaching"
umount "$work/root/boot/firmware"
umount "$work/root"
losetup -d "$loop"
loop=""
mv "$OUT.partial" "$OUT"
say "wrote $OUT: flash it with Raspberry Pi Imager (Use custom), see docs/device-admin-guide.md"
