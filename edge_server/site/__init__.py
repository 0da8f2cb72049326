"""The site server app: its factory, blueprints, templates, and the site-wide jobs (health,
backup, demo data, first boot) that put the features together."""
