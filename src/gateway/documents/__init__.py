"""Documents: the index of the ERP's paperwork, its downloads and the
reconciliation statement."""
