"""Domain events: written to the outbox in the transaction of the change."""
