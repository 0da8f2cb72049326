"""Full-text index of installed packs (content packs, issue 3).

FTS5 with the trigram tokenizer, because Khmer runs words together without spaces: any
three characters inside a word match, so words inside running Khmer text are found.
Rows are written in the same transaction as the catalog rows of an install or removal.
"""

from peewee import Database


def apply(db: Database) -> None:
    db.execute_sql(
        "CREATE VIRTUAL TABLE search_index USING fts5("
        "key UNINDEXED, pack UNINDEXED, type UNINDEXED, title_km, title_en, body, "
        "tokenize='trigram')"
    )
