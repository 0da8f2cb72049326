"""Migrations of the web base's table on the site: sign-in attempts (central has its own)."""
