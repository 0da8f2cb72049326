"""Practicum observations (issue 15): the catalog accepts ``observation`` items (forms).

Observations themselves are events in the learning log (``observed``, ``reflected``): no
table of their own.
"""

from peewee import Database

from edge_server.base.migrate import allow_value


def apply(db: Database) -> None:
    allow_value(db, "items", "type", "observation")
