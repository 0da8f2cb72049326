"""A site's last upgrade outcome gains its stable reason code (issue 20): the Releases page
shows the code's words in English or Khmer beside the site's English detail."""

from peewee import Database

from edge_server.base.migrate import execute_all


def apply(db: Database) -> None:
    execute_all(db, ["ALTER TABLE site_releases ADD COLUMN code VARCHAR(40) NOT NULL DEFAULT ''"])
