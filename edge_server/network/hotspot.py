"""The site hotspot's configuration: hostapd (WPA2 access point), dnsmasq, avahi, the address.

Templates live in ``deploy/raspberrypi/hotspot/*.in`` (installed under /opt/kru/deploy) and
are filled with ``string.Template`` at first boot, when the Wi-Fi passphrase is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from string import Template

ADDRESS = "10.42.0.1"
DHCP_START = "10.42.0.10"
DHCP_END = "10.42.0.250"  # 241 addresses: a class of 60 plus their second devices, and more
LEASE_MAX = 241
BUILTIN_MAX_CLIENTS = 24  # hostapd's cap; the built-in radio is comfortable with far fewer

# template name -> (path below /etc, file mode). hostapd.conf holds the passphrase.
FILES: dict[str, tuple[str, int]] = {
    "hostapd.conf.in": ("hostapd/hostapd.conf", 0o600),
    "dnsmasq-kru.conf.in": ("dnsmasq.d/kru.conf", 0o644),
    "avahi-hosts.in": ("avahi/hosts", 0o644),
    "avahi-kru.service.in": ("avahi/services/kru.service", 0o644),
    "wlan-address.conf.in": ("kru/wlan.env", 0o644),
    "networkmanager-unmanaged.conf.in": ("NetworkManager/conf.d/kru-hotspot.conf", 0o644),
}


@dataclass(frozen=True)
class HotspotConfig:
    ssid: str
    passphrase: str = field(repr=False)
    country: str = "KH"
    port: int = 80
    interface: str = "wlan0"
    address: str = ADDRESS
    max_clients: int = BUILTIN_MAX_CLIENTS

    def values(self) -> dict[str, str]:
        return {
            "ssid": self.ssid,
            "passphrase": self.passphrase,
            "country": self.country,
            "port": str(self.port),
            "interface": self.interface,
            "address": self.address,
            "dhcp_start": DHCP_START,
            "dhcp_end": DHCP_END,
            "lease_max": str(LEASE_MAX),
            "max_clients": str(self.max_clients),
        }


def render(template: str, config: HotspotConfig) -> str:
    """Return ``template`` with the hotspot's values filled in.

    Raises:
        KeyError: the template names a value this module does not know.
    """
    return Template(template).substitute(config.values())


def render_configs(
    templates: Path, etc_dir: Path, config: HotspotConfig
) -> list[tuple[Path, str, int]]:
    """Return (path below ``etc_dir``, text, file mode) of every hotspot file; write nothing.

    Raises:
        OSError: a template cannot be read. KeyError: a template names an unknown value.
    """
    return [
        (etc_dir / relative, render((templates / name).read_text(encoding="utf-8"), config), mode)
        for name, (relative, mode) in FILES.items()
    ]
