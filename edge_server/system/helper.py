"""Ask the root helper for one narrow thing: mount or eject a stick, set the clock, restart,
upgrade Kru to the release staged in the data directory (issue 20).

The server runs as the unprivileged ``kru`` user (issue 19). What needs root is a request,
one word with its arguments joined by ``-`` (``mount-sda1-rw``, ``eject-sda1``,
``clock-1764662400``, ``restart``, ``upgrade``), run by the command in the ``system.helper``
setting. On a Pi that starts ``kru-helper@<request>.service``, a oneshot unit running
``/opt/kru/bin/kru-helper``, which a polkit rule lets ``kru`` start and nothing else; the
helper checks the request again. Tests point the setting at a fake helper.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Mapping
from typing import Any

from ..base.errors import N_, KruError, ValidationError

log = logging.getLogger(__name__)

DEVICE = r"sd[a-z][0-9]{0,2}"
REQUEST = re.compile(
    rf"^(mount-{DEVICE}-(rw|ro)|eject-{DEVICE}|clock-[0-9]{{10}}|restart|upgrade)$"
)
TIMEOUT_S = 60


class HelperFailed(KruError):
    code = "helper_failed"
    status = 503


def check(request: str) -> str:
    """Return ``request`` when the helper accepts it.

    Raises:
        ValidationError: code ``bad_helper_request``, not one of the helper's requests.
    """
    if not REQUEST.match(request):
        raise ValidationError(
            N_("The helper does not do %(request)s"), code="bad_helper_request", request=request
        )
    return request


def run(settings: Mapping[str, Any], request: str) -> None:
    """Run ``request`` through the root helper and wait for it to finish.

    Raises:
        ValidationError: the request is not one the helper does.
        HelperFailed: the helper is missing, failed or took longer than a minute.
    """
    check(request)
    command = [part.replace("{request}", request) for part in settings["system.helper"]]
    log.info("asking the helper for %s", request)
    try:
        done = subprocess.run(  # noqa: S603  # a fixed command from the settings, checked request
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HelperFailed(
            N_("The Pi could not do this (%(request)s): %(problem)s"),
            request=request,
            problem=str(exc),
        ) from exc
    if done.returncode != 0:
        problem = (done.stderr or done.stdout).strip().splitlines()[-1:] or [
            f"exit {done.returncode}"
        ]
        log.warning("helper %s failed: %s", request, problem[0])
        raise HelperFailed(
            N_("The Pi could not do this (%(request)s): %(problem)s"),
            request=request,
            problem=problem[0],
        )
