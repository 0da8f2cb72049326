"""Migrations of the authoring tables: drafts and their items."""
