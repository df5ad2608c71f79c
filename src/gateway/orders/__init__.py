"""Orders: placement, approval, cancellation, history, export and the ERP
round trip (submission and status sync)."""
