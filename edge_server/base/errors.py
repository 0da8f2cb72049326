"""Typed errors raised by Kru's library code.

Library code raises these; the CLI turns them into one line on stderr and exit 1, the API
into ``{"error": {"code", "message"}}`` with ``status``, pages into a translated message.
Messages are English templates marked with ``N_`` so Babel extracts them; ``localized``
renders one in the user's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(message: str) -> str:  # the conventional gettext marker name
    """Mark a string for translation without translating it (Babel keyword ``N_``)."""
    return message


class KruError(Exception):
    """Base error: a stable ``code``, an English message template and its parameters."""

    code = "error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        self.template = message
        self.params = params
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Return the English message with its parameters filled in."""
        return self.template % self.params if self.params else self.template

    def localized(self, gettext: Callable[[str], str]) -> str:
        """Return the message translated by ``gettext``, parameters filled in."""
        text = gettext(self.template)
        return text % self.params if self.params else text


class ValidationError(KruError):
    code = "invalid"
    status = 400


class NotFound(KruError):
    code = "not_found"
    status = 404


class Conflict(KruError):
    code = "conflict"
    status = 409


class PermissionDenied(KruError):
    code = "forbidden"
    status = 403


class ConfigError(KruError):
    code = "config_error"
    status = 500


class StorageError(KruError):
    code = "storage_error"
    status = 507
