"""``python -m edge_server.cli`` runs the ``kru`` command."""

from .main import main

main()
