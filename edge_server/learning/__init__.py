"""Learning experience and progress: event ingest, completion rules, quizzes, dashboards.

Plain modules without Flask; the learner and instructor pages, the API and the CLI are
thin shells over them.
"""
