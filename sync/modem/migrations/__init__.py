"""Migrations of the modem's SMS log."""
