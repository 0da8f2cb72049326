"""Migrations of the in-person sessions, attendance and certificates tables."""
