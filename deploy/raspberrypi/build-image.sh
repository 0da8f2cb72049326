#!/usr/bin/env bash
# Make a Kru image from an official Raspberry Pi OS Lite 64-bit image (bookworm or later):
# the offline bundle goes to /opt/kru-bundle, and units that install Kru and apply
# kru-setup.toml at first boot are enabled. Flash the result with Raspberry Pi Imager.
#   deploy/raspberrypi/build-image.sh --image RASPIOS.img[.xz] --bundle DIR --out KRU.img
#        [--setup kru-setup.toml] [--force]
#   deploy/raspberrypi/build-image.sh --bundle DIR --stage-only DIR   (no image)
# Needs parted, mtools, e2fsprogs and xz; no root, no loop device, no mount: the partitions
# are edited inside the image file at their offsets (mtools for FAT, debugfs for ext4).
# Nothing secret goes into the image: no data directory, no keys, an empty machine-id; each Pi
# makes its own at first boot.
set -euo pipefail

IMAGE=""
BUNDLE=""
OUT=""
SETUP=""
STAGE_ONLY=""
FORCE=0
# Room the bundle needs on the root partition beyond its own size (Raspberry Pi OS grows the
# root partition to the whole card at first boot, before Kru installs its virtualenv).
MARGIN_KIB=65536

die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'build-image: %s\n' "$*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --image) IMAGE=${2:-}; shift 2 ;;
        --bundle) BUNDLE=${2:-}; shift 2 ;;
        --out) OUT=${2:-}; shift 2 ;;
        --setup) SETUP=${2:-}; shift 2 ;;
        --stage-only) STAGE_ONLY=${2:-}; shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
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

for tool in parted mcopy debugfs dumpe2fs e2fsck; do
    command -v "$tool" >/dev/null || die "$tool is needed (apt-get install parted mtools e2fsprogs)"
done
case "$IMAGE" in
    *.xz) command -v xz >/dev/null || die "xz is needed for $IMAGE (apt-get install xz-utils)" ;;
esac
work=$(mktemp -d)
partial="$OUT.partial"
cleanup() {
    rm -rf "$work"
    rm -f "$partial"
}
trap cleanup EXIT

say "1/6 copying $IMAGE to $OUT"
case "$IMAGE" in
    *.xz) xz -dc "$IMAGE" 2>/dev/null > "$partial" || die "$IMAGE is not a readable .xz file" ;;
    *) cp --sparse=always "$IMAGE" "$partial" ;;
esac

say "2/6 finding the boot and root partitions"
# parted -m prints "N:startB:endB:sizeB:filesystem:name:flags;" per partition.
table=$(parted -s -m "$partial" unit B print 2>/dev/null) || die "$IMAGE has no partition table"
boot_line=$(printf '%s\n' "$table" | grep '^1:' || true)
root_line=$(printf '%s\n' "$table" | grep '^2:' || true)
case "$boot_line" in
    1:*:*:*:fat16:*|1:*:*:*:fat32:*) ;;
    *) die "$IMAGE has no boot and root partitions (partition 1 must be FAT)" ;;
esac
case "$root_line" in
    2:*:*:*:ext4:*) ;;
    *) die "$IMAGE has no boot and root partitions (partition 2 must be ext4)" ;;
esac
boot_offset=$(printf '%s\n' "$boot_line" | cut -d: -f2 | tr -d B)
root_offset=$(printf '%s\n' "$root_line" | cut -d: -f2 | tr -d B)
root="$partial?offset=$root_offset"   # e2fsprogs open a file system at a byte offset this way
boot="$partial@@$boot_offset"         # and mtools this way
export MTOOLS_SKIP_CHECK=1

say "3/6 checking the root partition"
rootfs_cat() { debugfs -R "cat $1" "$root" 2>/dev/null; }
rootfs_has() { debugfs -R "stat $1" "$root" 2>&1 | grep -q '^Inode:'; }
# /etc/os-release links to /usr/lib/os-release (debugfs does not follow links).
{ rootfs_cat /usr/lib/os-release; rootfs_cat /etc/os-release; } \
    | grep -Eq '^VERSION_CODENAME=(bookworm|trixie)' \
    || die "this is not Raspberry Pi OS bookworm or later"
rootfs_has /usr/lib/aarch64-linux-gnu || die "this is not a 64-bit (arm64) image"
for taken in /opt/kru-bundle /opt/kru /etc/kru /var/lib/kru; do
    ! rootfs_has "$taken" || die "the image already has $taken: start from the official image"
done
super=$(dumpe2fs -h "$root" 2>/dev/null)
block_size=$(printf '%s\n' "$super" | sed -n 's/^Block size: *//p')
free_blocks=$(printf '%s\n' "$super" | sed -n 's/^Free blocks: *//p')
free=$(( free_blocks * block_size / 1024 ))
need=$(( $(du -sk "$BUNDLE" | cut -f1) + MARGIN_KIB ))
[ "$free" -gt "$need" ] || die "the root partition has ${free} KiB free, ${need} KiB needed"

say "4/6 adding the bundle and the first-boot units"
stage_tree "$work/stage"
# One debugfs command per staged path, parents first; owner root, mode as staged.
while IFS=' ' read -r type mode path; do
    case "$path" in *[[:space:]\"\\]*) die "cannot add '$path' (space or quote in the name)" ;; esac
    case "$type" in
        d) printf 'mkdir /%s\nsif /%s mode 040%s\n' "$path" "$path" "$mode" ;;
        f) printf 'write %s /%s\nsif /%s mode 0100%s\n' "$work/stage/rootfs/$path" "$path" "$path" "$mode" ;;
        l) printf 'symlink /%s %s\n' "$path" "$(readlink "$work/stage/rootfs/$path")" ;;
        *) die "cannot add /$path (not a file, directory or link)" ;;
    esac
    printf 'sif /%s uid 0\nsif /%s gid 0\n' "$path" "$path"
done < <(cd "$work/stage/rootfs" && find . -mindepth 1 -printf '%y %m %P\n') > "$work/commands"
debugfs -w -f "$work/commands" "$root" >/dev/null 2> "$work/errors" || die "debugfs failed"
# debugfs always exits 0: its complaints are the errors, except for directories that exist.
if grep -v -e '^debugfs [0-9]' -e 'directory already exists' "$work/errors" > "$work/problems"; then
    die "could not write the root partition: $(head -n 1 "$work/problems")"
fi
for file in "$work"/stage/boot/*; do
    mcopy -o -i "$boot" "$file" "::$(basename "$file")" || die "could not write the boot partition"
done

say "5/6 removing anything that would make two Pis alike"
# systemd makes a new machine-id at first boot when the file is empty.
: > "$work/empty"
printf 'rm /etc/machine-id\nwrite %s /etc/machine-id\nsif /etc/machine-id mode 0100444\n' \
    "$work/empty" > "$work/commands"
debugfs -w -f "$work/commands" "$root" >/dev/null 2>&1
[ -z "$(rootfs_cat /etc/machine-id)" ] || die "could not empty /etc/machine-id"

say "6/6 checking the file systems"
e2fsck -fn "$root" >"$work/fsck" 2>&1 || die "the root partition is damaged: $(tail -n 1 "$work/fsck")"
mdir -i "$boot" ::kru-setup.toml.example >/dev/null 2>&1 || die "the boot partition is damaged"
mv "$partial" "$OUT"
say "wrote $OUT: flash it with Raspberry Pi Imager (Use custom), see docs/device-admin-guide.md"
