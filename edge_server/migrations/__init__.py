"""Site database migrations, applied in order by ``edge_server.migrate`` (``kru migrate``)."""
