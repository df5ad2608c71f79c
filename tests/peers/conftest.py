"""Fixtures of the peer tests: the shared Tryton server and clients for it,
and the shared Kafka-protocol broker."""

from tests.peers.fixtures import tryton_http, tryton_peer, tryton_rpc
from tests.peers.kafka_fixtures import kafka_peer

__all__ = ["kafka_peer", "tryton_http", "tryton_peer", "tryton_rpc"]
