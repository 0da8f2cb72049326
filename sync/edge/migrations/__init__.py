"""Migrations of the sync agent's state on the site."""
