"""The catalog: products, the caller's prices and stock, read from backends."""
