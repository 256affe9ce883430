"""PostgreSQL access: connection strings and ephemeral local clusters."""
