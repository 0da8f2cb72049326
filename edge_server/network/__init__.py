"""The site's own network: the hotspot's configuration files and the Wi-Fi clients count."""
