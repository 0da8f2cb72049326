"""What an import converted and what it left out (and why), for the CLI and the upload page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImportReport:
    """The import of one file: its format, the items made and what was not converted."""

    source: str
    format: str = ""
    pack_id: str = ""
    version: str = ""
    converted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    def convert(self, what: str) -> None:
        self.converted.append(what)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append((what, why))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "pack_id": self.pack_id,
            "version": self.version,
            "converted": list(self.converted),
            "not_converted": [{"what": w, "why": y} for w, y in self.skipped],
        }

    def lines(self) -> list[str]:
        """Return the report as lines of plain text."""
        out = [f"{self.source}: {self.format} -> {self.pack_id} {self.version}"]
        out += [f"  converted: {what}" for what in self.converted]
        out += [f"  not converted: {what}: {why}" for what, why in self.skipped]
        return out
