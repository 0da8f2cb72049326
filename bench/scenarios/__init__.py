"""The benchmark scenarios, in the order a run takes them (see ``SCENARIOS``)."""

from __future__ import annotations

from ..core import Scenario
from . import content, learner, lifecycle, login, submission, sync, teach, upload

SCENARIOS: tuple[Scenario, ...] = (
    lifecycle.STARTUP,
    login.LOGIN_STORM,
    content.PAGE_WEIGHT,
    learner.LEARNER_HOME,
    learner.COURSE_PAGE,
    learner.LESSON_PAGE,
    learner.STATIC_FILE,
    learner.EVENTS,
    learner.HTTPS_PAGE,
    content.VIDEO,
    upload.PACK_UPLOAD,
    submission.SUBMISSION_UPLOAD,
    teach.DASHBOARD,
    teach.CSV_EXPORT,
    content.SEARCH,
    sync.SYNC_SQLITE,
    sync.CENTRAL_POSTGRES,
    lifecycle.SHUTDOWN,
)
