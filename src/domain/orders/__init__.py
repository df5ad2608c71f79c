"""Orders: what a dealer buys, from placement to invoice."""
