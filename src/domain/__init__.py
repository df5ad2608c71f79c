"""Portico's business rules: entities, value objects, status machines and ports.

Nothing here knows about HTTP, SQL or message brokers. The gateway and the
connectors depend on this package; it depends on neither of them.
"""
