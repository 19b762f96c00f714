"""Database access: embedded server, connection pool, migrations and named queries."""
