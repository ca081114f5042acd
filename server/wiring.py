"""The composition root: builds the server process from its settings."""
