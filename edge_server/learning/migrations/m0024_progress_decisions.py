"""Record in the event log the decisions already made (completed, passed, failed).

From this version on the site writes each status it gives as a decision event, and the
central server counts only those (docs/progress-rules.md). A site upgraded with progress
already made gets the decisions its log lacks here, appended after the sync cursor, so
its next sync tells the central server everything the site has decided.
"""

from peewee import Database


def apply(db: Database) -> None:
    # ``db`` is the shared site handle (edge_server.site.database.upgrade opened it), which
    # the models use.
    from edge_server.learning import progress

    progress.record_missing_decisions()
