"""Migrations of the task tables: submissions and their files."""
