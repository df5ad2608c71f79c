"""Catalog reads: wiring the domain's fan-out to connectors, cache and API."""
