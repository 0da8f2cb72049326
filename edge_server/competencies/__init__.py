"""Competency profiles (issue 16 items 5-6): evidence from the items, task reviews and
observations that name competencies of a framework in a pack, levels by the rules of
docs/progress-rules.md, the learner's profile and the cohort's matrix, and the levels the site
decides written to the log for central (``rules``, ``evidence``, ``profiles``).

Its pages are ``site/blueprints/competencies.py``; it owns no table: the evidence is the log
and the progress summaries of ``edge_server.learning``, the frameworks are pack data read
through ``content_packs.catalog``.
"""
