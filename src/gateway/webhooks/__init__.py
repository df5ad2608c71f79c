"""Webhooks to dealers' systems: endpoints, signed delivery, retries, a log.

The path of an event:

1. ``fanout`` reads committed events in commit order and queues one delivery
   per enabled endpoint of the event's account whose filter takes the type;
   the body is rendered once and kept (``messages``).
2. ``dispatcher`` leases due deliveries (``queue``), signs each with Standard
   Webhooks headers (``signing``) and POSTs it through ``transport``, which
   enforces the address rules of ``targets``, a total deadline and a cap on
   what it reads. ``retries`` decides what comes next; the attempt and the
   delivery's new state are written together.
3. ``routes`` manage endpoints and show the delivery log; ``service`` holds
   their rules.

Delivery is at least once, with ``webhook-id`` = the event id on every
attempt: receivers drop duplicates by it.
"""
