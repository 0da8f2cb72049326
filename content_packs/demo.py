"""Install the sample pack for ``kru demo``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edge_server.base.datahome import DataHome

from .build import build_pack
from .install import install_pack

EXAMPLES = Path(__file__).parent / "examples"
SAMPLE = EXAMPLES / "classroom-reading"


def install_sample_pack(settings: Any) -> None:
    """Build the sample pack from ``content_packs/examples`` to a temporary zip and install it."""
    home = DataHome(Path(settings.data_dir)).ensure()
    with tempfile.TemporaryDirectory(dir=home.tmp) as tmp:
        out = Path(tmp) / "sample.zip"
        build_pack(SAMPLE, out)
        install_pack(out, settings, home, installed_by="kru demo")
