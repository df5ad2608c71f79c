"""Portico's benchmarks: see bench/README.md. Never run by the test suite."""
