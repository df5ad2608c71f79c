"""Tryton ERP connector: JSON-RPC wire codec and session client."""
