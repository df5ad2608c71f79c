"""Fixtures of the peer tests: the shared Tryton server and clients for it."""

from tests.peers.fixtures import tryton_http, tryton_peer, tryton_rpc

__all__ = ["tryton_http", "tryton_peer", "tryton_rpc"]
