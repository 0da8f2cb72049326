"""Migrations of the learning tables: event log, progress, quiz answers, assignments,
SCORM state."""
