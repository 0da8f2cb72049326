"""``python -m bench.delta_download``: how many bytes a site downloads when a pack it has gets
a new version (issue 20: at most the changed files plus 5 %).

A real central server (``kru central serve``, SQLite) keeps a signed pack of random media
(files that do not compress, as video and audio do not); a real site, provisioned for it,
syncs through a byte-counting TCP proxy. Version 1 is downloaded whole; version 2 changes
some files and adds one; version 3 changes only a lesson's text. The agent and the central
server are Kru's own; the harness (central server, site, proxy) is the one the tests use
(tests/sync_support.py, tests/fleet_support.py). Prints one JSON object;
docs/performance.md ("Packs from central") keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

MB = 1024 * 1024


def _changed_bytes(old: dict[str, bytes], new: dict[str, bytes]) -> int:
    return sum(len(data) for name, data in new.items() if old.get(name) != data)


def run(files: int, file_mb: float, changed: int, workdir: Path) -> dict[str, Any]:
    """Run the three versions and return bytes downloaded for each, with the changed bytes."""
    from content_packs.signing import sign_pack
    from tests.fleet_support import (
        CountingProxy,
        installed_packs,
        random_files,
        signed_pack,
        signing_key,
        site_settings,
        sync_once,
    )
    from tests.packs_factory import build_pack, lesson
    from tests.sync_support import CentralServer, make_site

    key, public = signing_key(workdir / "keys")
    size = int(file_mb * MB)
    media = random_files({f"media/clip-{i:02d}.bin": size for i in range(files)})
    central = CentralServer(workdir / "central")
    central.env["KRU_PACKS_TRUSTED_KEYS"] = public
    central.start()
    proxy = CountingProxy(central.port)
    results: dict[str, Any] = {"files": files, "file_bytes": size}
    try:
        site = make_site(workdir, "kampot")
        central.provision(site, province="Kampot")
        settings = site_settings(site, proxy.url, public, sync__daily_download_budget_mb=10_000)

        def version(label: str, pack: Path, new_bytes: int, want: str) -> None:
            central.cli("pack", "add", str(pack))
            central.cli("pack", "assign", "fleet-pack", "--all")
            proxy.down = 0
            sync_once(settings)
            assert installed_packs(site) == {"fleet-pack": want}, installed_packs(site)
            results[label] = {
                "pack_zip_bytes": pack.stat().st_size,
                "changed_bytes": new_bytes,
                "downloaded_bytes": proxy.down,
                "over_changed_percent": round(100 * (proxy.down - new_bytes) / new_bytes, 2),
            }

        v1 = signed_pack(workdir / "v1", key, "1.0.0", media)
        version("v1_whole", v1, sum(len(d) for d in media.values()), "1.0.0")

        v2_media = dict(media)
        for i in range(changed):
            v2_media[f"media/clip-{i:02d}.bin"] = os.urandom(size)
        v2_media["media/added.bin"] = os.urandom(size)
        v2 = signed_pack(workdir / "v2", key, "2.0.0", v2_media)
        version("v2_changed_files", v2, _changed_bytes(media, v2_media), "2.0.0")

        # Version 3: the same media, one lesson's text rewritten (a typo fixed).
        text = "ការអានជាមួយសិស្ស។ " * 400
        v3 = build_pack(
            workdir / "v3",
            "fleet-pack",
            "3.0.0",
            items=[lesson("welcome", body=text)],
            extra_files=dict(v2_media),
        )
        sign_pack(v3, key)
        version("v3_lesson_text", v3, len(text.encode()), "3.0.0")
    finally:
        proxy.close()
        central.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delta_download", description=__doc__)
    parser.add_argument("--files", type=int, default=20, help="media files in the pack")
    parser.add_argument("--file-mb", type=float, default=2.0, help="size of each media file")
    parser.add_argument("--changed", type=int, default=2, help="files version 2 changes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kru-bench-delta-") as tmp:
        result = run(args.files, args.file_mb, args.changed, Path(tmp))
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
