"""The base of both servers: errors, settings, data home, database, migrations, passwords, logs,
the waitress server. Nothing here knows a Kru feature or imports Flask."""
