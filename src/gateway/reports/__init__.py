"""Reports: order figures by month, status, currency or account, and claim
figures with the SLA record, as JSON and as CSV/XLSX exports."""
