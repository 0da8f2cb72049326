"""Thin Flask blueprints over Kru's service functions."""
