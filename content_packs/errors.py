"""Typed errors of the pack tools; messages are English templates marked for translation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_server.base.errors import (
    N_,
    Conflict,
    KruError,
    NotFound,
    PermissionDenied,
    StorageError,
    ValidationError,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pack: a stable code, the file it concerns, and a message."""

    code: str
    template: str
    file: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template

    def localized(self, gettext: Any) -> str:
        text = gettext(self.template)
        return text % self.params if self.params else text

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "file": self.file, "message": self.message}

    def line(self) -> str:
        """Return the problem as one line: ``file: message``."""
        return f"{self.file}: {self.message}" if self.file else self.message


class InvalidPack(ValidationError):
    """A pack failed validation; ``problems`` lists everything found, the first gives the code."""

    code = "invalid_pack"
    status = 400

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(
            first.template,
            code=first.code,
            details={"problems": [p.as_dict() for p in problems]},
            **first.params,
        )

    def _with_file(self, text: str, more: str) -> str:
        first = self.problems[0]
        text = f"{first.file}: {text}" if first.file else text
        if len(self.problems) > 1:
            text += " " + more % {"count": len(self.problems) - 1}
        return text

    @property
    def message(self) -> str:
        return self._with_file(self.problems[0].message, _MORE)

    def localized(self, gettext: Any) -> str:
        return self._with_file(self.problems[0].localized(gettext), gettext(_MORE))


_MORE = N_("(and %(count)s more problems)")


class PackConflict(Conflict):
    code = "pack_conflict"


class PackNotFound(NotFound):
    code = "pack_not_found"


class PackNotYours(PermissionDenied):
    code = "pack_not_yours"


class PackTooLarge(KruError):
    code = "pack_too_large"
    status = 413


class NotEnoughSpace(StorageError):
    code = "not_enough_space"
    status = 507


class PackBusy(KruError):
    code = "pack_busy"
    status = 409


class BadKey(ValidationError):
    code = "bad_key"


class BadSource(ValidationError):
    """A pack source folder (pack.toml, front matter, quiz files) has a mistake."""

    code = "bad_source"
