"""Typed errors of the importers: each names the problem in one line, with a stable code."""

from __future__ import annotations

from edge_server.base.errors import ValidationError


class ImportRefused(ValidationError):
    """A file could not be turned into a pack; nothing was written or installed."""

    code = "import_refused"


class UnknownFormat(ImportRefused):
    """The file is none of the formats Kru can bring in."""

    code = "import_unknown_format"


class BrokenFile(ImportRefused):
    """The file claims a known format but is damaged or does not follow it."""

    code = "import_broken_file"


class NotSupported(ImportRefused):
    """The format is recognised, but Kru does not play it (cmi5, xAPI, ...)."""

    code = "import_not_supported"
