"""Bring existing content in (issue 18): a module per format; ``convert.import_file`` runs them."""
