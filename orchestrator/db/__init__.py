"""The results database: models, sessions and migrations, and the repository of all queries."""
