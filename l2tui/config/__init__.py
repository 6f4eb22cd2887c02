"""Connection model, TOML store, connection strings and secrets."""
