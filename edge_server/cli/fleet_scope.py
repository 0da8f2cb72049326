"""What ``kru central pack assign`` and ``kru central release assign`` share: the choice of
sites (``--all``, ``--province P`` or ``--site DEVICE``) and how an assignment is written."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import click


def scope_options(command: Callable) -> Callable:
    """Add ``--all``, ``--province`` and ``--site`` to an assign ``command``."""
    command = click.option("--site", "device_id", help="One site, by device id.")(command)
    command = click.option("--province", help="Every site registered in this province.")(command)
    return click.option("--all", "everyone", is_flag=True, help="Every site.")(command)


def chosen_scope(everyone: bool, province: str | None, device_id: str | None) -> tuple[str, str]:
    """Return (scope, target) of exactly one choice; a ClickException names the choices."""
    from sync.central import library_models as lm

    chosen = [c for c in (everyone, province is not None, device_id is not None) if c]
    if len(chosen) != 1:
        raise click.ClickException("give exactly one of --all, --province P or --site DEVICE")
    if everyone:
        return lm.ALL, ""
    return (lm.PROVINCE, province or "") if province is not None else (lm.SITE, device_id or "")


def where_words(scope: str, target: str) -> str:
    """Return "all sites", "province P" or "site D"."""
    return {"all": "all sites", "province": f"province {target}", "site": f"site {target}"}[scope]


def assignments_text(assignments: Iterable[Any]) -> str:
    """Return the assignments as ``all, province:Kampot, site:D`` (``-`` for none)."""
    return ", ".join(a.scope + (f":{a.target}" if a.target else "") for a in assignments) or "-"
