"""``portico demo``: TPC-H order history replayed through the whole chain."""

from gateway.demo.stack import DEFAULT_ORDERS, run_demo

__all__ = ["DEFAULT_ORDERS", "run_demo"]
