"""Adapters to back-office systems, one subpackage per system.

Each connector implements ports from :mod:`domain.ports` and makes every
outbound call through :mod:`connectors.runtime`, which gives it a pooled
client, a total deadline, bounded concurrency, safe retries and a circuit
breaker. Connectors import the domain, never the gateway.
"""
