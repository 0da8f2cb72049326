"""Migrations of the catalog of installed packs and its search index."""
