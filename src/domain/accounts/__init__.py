"""Accounts (tenants) and what their API keys may do."""
