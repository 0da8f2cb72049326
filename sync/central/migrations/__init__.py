"""Central server migrations (portable SQL: the same modules run on SQLite and PostgreSQL)."""
