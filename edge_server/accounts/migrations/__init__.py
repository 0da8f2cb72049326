"""Migrations of the accounts tables: users, cohorts, who learns and teaches in which."""
