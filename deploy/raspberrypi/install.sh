#!/usr/bin/env bash
# Install or upgrade Kru on Raspberry Pi OS Lite 64-bit (Debian bookworm or later) from an
# offline bundle made by build-bundle.sh. Idempotent: a second run changes nothing.
#   sudo ./install.sh [--bundle DIR] [--prepare]
# Each version lives in /opt/kru/releases/VERSION/ with its own venv; /opt/kru/current points
# at the one that runs and /opt/kru/venv through it. --prepare only makes the venv of this
# bundle's release and changes nothing else (kru-upgrade then switches and checks it).
# Python packages come only from the bundle's wheels/. Debian packages that are missing come
# from the bundle's debs/ when it has them, else from apt (needs internet); the root helper's
# (polkitd, ntfs-3g) likewise, and without them the install goes on with a warning.
# The data directory /var/lib/kru is never removed or overwritten.
set -euo pipefail

BUNDLE=$(cd "$(dirname "$0")" && pwd)
PREFIX=/opt/kru
DATA=/var/lib/kru
CONF=/etc/kru
UNITDIR=/etc/systemd/system
SYSTEM_PACKAGES=(python3 python3-venv hostapd dnsmasq avahi-daemon fake-hwclock iw rfkill iproute2 logrotate nginx openssl sqlite3)
# The root helper's (issue 19): polkit lets kru start it, ntfs-3g mounts NTFS sticks. Kru
# runs without them; only the Site page's USB sticks, clock and restart wait for them.
HELPER_PACKAGES=(polkitd ntfs-3g)
UNITS=(kru.service kru-sync.service kru-firstboot.service kru-wlan.service
    kru-upgrade-resume.service)
# Started only by the root helper for an upgrade the site staged (issue 20); not enabled.
UPGRADE_UNITS=(kru-upgrade.service)
# The TLS front: started only by kru-tls-apply (from its path unit and timer) when the site
# holds a valid certificate (docs/device-admin-guide.md, "HTTPS on the site Wi-Fi").
TLS_UNITS=(kru-https.service kru-tls-apply.service kru-tls-apply.path kru-tls-apply.timer)
changed=0
reload_units=0
new_python=0
PREPARE=0

say() { printf 'kru install: %s\n' "$*"; }
did() { changed=1; say "$*"; }
die() { printf 'kru install: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) BUNDLE=$(cd "$2" && pwd); shift 2 ;;
        --prepare) PREPARE=1; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "run as root: sudo $0"
if [ ! -f "$BUNDLE/SHA256SUMS" ] || [ ! -d "$BUNDLE/wheels" ]; then
    die "$BUNDLE is not a Kru bundle (no SHA256SUMS or wheels/)"
fi
(cd "$BUNDLE" && sha256sum --quiet --strict -c SHA256SUMS) \
    || die "the bundle is damaged (checksums differ): copy it again"
VERSION=$(cat "$BUNDLE/VERSION")
[[ $VERSION =~ ^[0-9A-Za-z.+-]+$ ]] || die "the bundle's VERSION is not a version"
RELEASE=$PREFIX/releases/$VERSION
VENV=$RELEASE/venv

# --- Python: a venv with exactly the bundle's wheels, no index, in this version's release
# pip itself comes from the bundle's wheel too (run straight from the .whl), so the venv needs no
# ensurepip: on a Pi that step alone took minutes, and the bundle's pip replaced it anyway.
install_python() {
    if [ ! -x "$VENV/bin/python" ]; then
        install -d -m 0755 "$RELEASE"
        python3 -m venv --without-pip "$VENV"
        did "created the virtualenv $VENV"
    fi
    stamp=$(cd "$BUNDLE" && sha256sum requirements.txt wheels/*.whl | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$VENV/.kru-bundle" 2>/dev/null || true)" != "$stamp" ]; then
        pip_wheel=$(compgen -G "$BUNDLE/wheels/pip-*.whl" | head -n 1) \
            || die "the bundle has no pip wheel: build it again with build-bundle.sh"
        say "installing Kru $VERSION and $(grep -c . "$BUNDLE/requirements.txt") packages from the bundle's wheels (minutes on a Pi)"
        "$VENV/bin/python" "$pip_wheel/pip" install --quiet --disable-pip-version-check \
            --no-index --no-compile --find-links "$BUNDLE/wheels" --upgrade -r "$BUNDLE/requirements.txt"
        # Byte-compile on every core at once (pip does one file at a time); the kru user cannot
        # write to the venv, so modules not compiled now would be compiled again at every start.
        # Twice: as the services run them (-o 2: PYTHONOPTIMIZE=2 in their units) and as the
        # kru command does for an admin (-o 0).
        say "byte-compiling $VENV"
        "$VENV/bin/python" -m compileall -q -j 0 -o 0 -o 2 -x '/pip/' "$VENV/lib" \
            || die "could not byte-compile $VENV (see above)"
        echo "$stamp" > "$VENV/.kru-bundle"
        new_python=1
        did "installed Kru $VERSION and its libraries from the bundle"
    fi
}
if [ "$PREPARE" -eq 1 ]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11 or newer is needed (Raspberry Pi OS bookworm or later)"
    install_python
    say "prepared Kru $VERSION in $RELEASE"
    exit 0
fi

# --- Debian packages
# policy-rc.d answering 101 keeps package scripts from starting services (invoke-rc.d and
# deb-systemd-invoke ask it); ours is removed afterwards, someone else's is left alone.
POLICY=/usr/sbin/policy-rc.d
our_policy=0
no_starts() {
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\n# kru install.sh: no service starts while it installs packages\nexit 101\n' > "$POLICY"
        chmod 0755 "$POLICY"
        our_policy=1
    fi
}
allow_starts() {
    if [ "$our_policy" -eq 1 ]; then rm -f "$POLICY"; our_policy=0; fi
}
trap allow_starts EXIT
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done
helper_missing=()
for p in "${HELPER_PACKAGES[@]}"; do
    installed "$p" || helper_missing+=("$p")
done
have_debs=0
compgen -G "$BUNDLE/debs/*.deb" >/dev/null && have_debs=1
# The helper's packages that the bundle's debs/ carry (older bundles carry none of them).
helper_debs=()
if [ "$have_debs" -eq 1 ] && [ ${#helper_missing[@]} -gt 0 ]; then
    carried=$(for deb in "$BUNDLE"/debs/*.deb; do dpkg-deb -f "$deb" Package; done)
    for p in "${helper_missing[@]}"; do
        if grep -qxF "$p" <<<"$carried"; then helper_debs+=("$p"); fi
    done
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ] || [ ${#helper_debs[@]} -gt 0 ]; then
    # The packages' scripts must not start hostapd or dnsmasq now: at first boot this runs in
    # kru-install.service, and a start would wait for kru-firstboot, which waits for us (a
    # deadlock until the unit's timeout); kru-firstboot starts them once they are configured.
    # polkitd needs no start: D-Bus starts it when systemd first asks it about kru.
    no_starts
    if [ "$have_debs" -eq 1 ]; then
        wanted=("${missing[@]}" "${helper_debs[@]}")
        did "installing ${wanted[*]} from the bundle's debs/"
        # Not --no-download: with it, apt fails on local .deb files whenever the Pi's package
        # lists are empty ("Pathname to install is not absolute"), as on a fresh image.
        apt-get install -y -q --no-install-recommends "$BUNDLE"/debs/*.deb \
            || die "cannot install the bundle's debs/: they need packages this Pi lacks (see above)"
    else
        did "installing ${missing[*]} with apt (needs internet)"
        apt-get install -y -q --no-install-recommends "${missing[@]}" \
            || die "cannot install ${missing[*]}: connect the Pi to the internet or use a bundle with debs/"
    fi
    allow_starts
fi
# What the bundle did not carry comes from apt when the Pi is online; Kru runs without it.
helper_missing=()
for p in "${HELPER_PACKAGES[@]}"; do
    installed "$p" || helper_missing+=("$p")
done
if [ ${#helper_missing[@]} -gt 0 ]; then
    no_starts
    if apt-get install -y -q --no-install-recommends "${helper_missing[@]}" >/dev/null 2>&1; then
        did "installed ${helper_missing[*]} (the root helper's) with apt"
    else
        say "warning: cannot install ${helper_missing[*]}: until they are installed the Site page cannot open USB sticks, set the clock or restart Kru (put them in the bundle's debs/, see the device admin guide)"
    fi
    allow_starts
fi
# D-Bus reloads its policy as soon as polkitd's package unpacks it, which is before the package
# creates the polkitd user; that policy then names an unknown user, so polkitd cannot own its
# bus name and systemd refuses kru every start of the root helper until D-Bus reloads again
# (seen in the emulated boot: "Unknown username polkitd", then "Lost the name
# org.freedesktop.PolicyKit1"). Reload it now that the user exists.
if [ -d /run/systemd/system ] && installed polkitd && systemctl is-active -q dbus.service; then
    systemctl reload dbus.service \
        || say "warning: cannot reload D-Bus: restart the Pi before using the Site page's USB, clock or restart buttons"
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed (Raspberry Pi OS bookworm or later)"

# --- user and directories
if ! getent passwd kru >/dev/null; then
    useradd --system --user-group --home-dir "$DATA" --no-create-home \
        --shell /usr/sbin/nologin --comment "Kru site server" kru
    did "created the system user kru"
fi
if getent group dialout >/dev/null && ! id -nG kru | tr ' ' '\n' | grep -qx dialout; then
    usermod -aG dialout kru
    did "added kru to dialout (USB modem)"
fi

ensure_dir() {  # path owner group mode
    local path=$1 want="$2:$3 $4"
    if [ ! -d "$path" ] || [ "$(stat -c '%U:%G %a' "$path")" != "$want" ]; then
        install -d -o "$2" -g "$3" -m "$4" "$path"
        did "prepared $path ($want)"
    fi
}
ensure_dir "$DATA" kru kru 750
ensure_dir "$CONF" root kru 750
ensure_dir "$PREFIX" root root 755
ensure_dir /var/log/kru root root 755

install_file() {  # src dest mode [owner group]
    local src=$1 dest=$2 mode=$3 owner=${4:-root} group=${5:-root}
    if [ -f "$dest" ] && cmp -s "$src" "$dest" \
        && [ "$(stat -c '%U:%G %a' "$dest")" = "$owner:$group ${mode#0}" ]; then
        return 1
    fi
    install -D -o "$owner" -g "$group" -m "$mode" "$src" "$dest"
    did "installed $dest"
    return 0
}

if [ ! -f "$CONF/kru.toml" ]; then
    install -o root -g kru -m 0640 "$BUNDLE/system/kru.toml.example" "$CONF/kru.toml"
    did "wrote $CONF/kru.toml (port 80, data in $DATA)"
fi

# --- Python: this version's release, made current (an atomic symlink switch)
install_python
if [ "$(readlink "$PREFIX/current" 2>/dev/null || true)" != "releases/$VERSION" ]; then
    if [ -L "$PREFIX/current" ]; then
        ln -sfn "$(readlink "$PREFIX/current")" "$PREFIX/.previous.new"
        mv -Tf "$PREFIX/.previous.new" "$PREFIX/previous"
    fi
    ln -sfn "releases/$VERSION" "$PREFIX/.current.new"
    mv -Tf "$PREFIX/.current.new" "$PREFIX/current"
    new_python=1
    did "made Kru $VERSION current ($PREFIX/current)"
fi
if [ "$(readlink "$PREFIX/venv" 2>/dev/null || true)" != "current/venv" ]; then
    # A Pi installed before side-by-side releases has a venv folder here: replaced by the link.
    if [ -d "$PREFIX/venv" ] && [ ! -L "$PREFIX/venv" ]; then rm -rf "$PREFIX/venv"; fi
    ln -sfn current/venv "$PREFIX/.venv.new"
    mv -Tf "$PREFIX/.venv.new" "$PREFIX/venv"
    did "linked $PREFIX/venv to the current release"
fi

# --- the release keys this Pi trusts (issue 20): from the bundle, i.e. from the image
ensure_dir "$CONF/release-keys" root root 755
for key in "$BUNDLE"/release-keys/*.pub; do
    [ -f "$key" ] || continue
    install_file "$key" "$CONF/release-keys/$(basename "$key")" 0644 || true
done

# --- deploy files, commands, units, site care
for f in "$BUNDLE"/hotspot/* "$BUNDLE"/system/*; do
    install_file "$f" "$PREFIX/deploy/${f#"$BUNDLE"/}" 0644 || true
done
install_file "$BUNDLE/README.md" "$PREFIX/deploy/README.md" 0644 || true
install_file "$BUNDLE/bin/kru-firstboot" "$PREFIX/bin/kru-firstboot" 0755 || true
install_file "$BUNDLE/bin/kru" /usr/local/bin/kru 0755 || true
install_file "$BUNDLE/bin/kru-tls-apply" "$PREFIX/bin/kru-tls-apply" 0755 || true
install_file "$BUNDLE/tls/nginx-kru.conf" "$CONF/nginx-kru.conf" 0644 || true
install_file "$BUNDLE/system/logrotate-kru" /etc/logrotate.d/kru 0644 || true
install_file "$BUNDLE/system/journald-kru.conf" /etc/systemd/journald.conf.d/kru.conf 0644 || true
# The root helper for USB sticks, the clock and restarts, and the polkit rule that lets kru
# start it for exactly its requests (issue 19); sticks are mounted under /media/kru.
install_file "$BUNDLE/bin/kru-helper" "$PREFIX/bin/kru-helper" 0755 || true
install_file "$BUNDLE/bin/kru-upgrade" "$PREFIX/bin/kru-upgrade" 0755 || true
install_file "$BUNDLE/bin/kru-carry-back" "$PREFIX/bin/kru-carry-back" 0755 || true
install_file "$BUNDLE/system/polkit-kru.rules" /etc/polkit-1/rules.d/50-kru.rules 0644 || true
if install_file "$BUNDLE/systemd/kru-helper@.service" "$UNITDIR/kru-helper@.service" 0644; then reload_units=1; fi
ensure_dir /media/kru root root 755
for unit in "${UNITS[@]}" "${TLS_UNITS[@]}" "${UPGRADE_UNITS[@]}" kru-install.service; do
    if install_file "$BUNDLE/systemd/$unit" "$UNITDIR/$unit" 0644; then reload_units=1; fi
done

running_systemd=0
[ -d /run/systemd/system ] && running_systemd=1
if [ "$reload_units" -eq 1 ] && [ "$running_systemd" -eq 1 ]; then systemctl daemon-reload; fi

enable() {
    local unit=$1 state
    state=$(systemctl is-enabled "$unit" 2>/dev/null || true)
    if [ "$state" = "masked" ]; then
        systemctl unmask "$unit" >/dev/null 2>&1 || die "cannot unmask $unit (try: systemctl unmask $unit)"
        did "unmasked $unit"
        state=$(systemctl is-enabled "$unit" 2>/dev/null || true)
    fi
    if [ "$state" != "enabled" ]; then
        systemctl enable "$unit" >/dev/null 2>&1 || die "cannot enable $unit (try: systemctl enable $unit)"
        did "enabled $unit"
    fi
}
for unit in "${UNITS[@]}" hostapd.service dnsmasq.service avahi-daemon.service fake-hwclock.service \
    kru-tls-apply.path kru-tls-apply.timer; do
    enable "$unit"
done
# Debian's own nginx site listens on port 80, which is Kru's: only kru-https.service runs nginx.
if [ "$(systemctl is-enabled nginx.service 2>/dev/null || true)" != "masked" ]; then
    if [ "$running_systemd" -eq 1 ]; then systemctl stop nginx.service >/dev/null 2>&1 || true; fi
    systemctl mask nginx.service >/dev/null 2>&1
    did "masked Debian's nginx.service (kru-https.service runs the TLS front)"
fi
if [ -f /lib/systemd/system/systemd-timesyncd.service ]; then enable systemd-timesyncd.service; fi

# --- an upgrade restarts what runs; the data directory stays as it is
if [ "$new_python" -eq 1 ] && [ "$running_systemd" -eq 1 ]; then
    for unit in kru.service kru-sync.service; do
        if systemctl is-active -q "$unit"; then
            systemctl restart "$unit"
            did "restarted $unit"
        fi
    done
fi

if [ "$changed" -eq 0 ]; then
    say "nothing to change: Kru $VERSION is installed"
else
    say "done: Kru $VERSION; data in $DATA, settings in $CONF/kru.toml"
    if [ ! -f "$CONF/setup-done" ] && [ ! -f /boot/firmware/kru-setup.toml ]; then
        say "next: put kru-setup.toml on the boot partition and restart"
    fi
fi
