"""Accounts and API keys: storage and the use cases the CLI and API share."""
