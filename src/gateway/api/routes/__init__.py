"""HTTP routes, one module per feature. Routes stay thin: parse, call, answer."""
