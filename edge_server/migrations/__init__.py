"""Site database migrations, applied in order by ``edge_server.base.migrate`` (``kru migrate``)."""
