"""The catalog over the in-memory ERP twin, for faults the real Tryton cannot
be made to show on demand."""

from tests.gateway.orders.conftest import api, dealer, erp, orders_app

__all__ = ["api", "dealer", "erp", "orders_app"]
