"""Fixtures for the real Tryton peer, importable by any test package.

Import the fixtures you need into a ``conftest.py`` (``from
tests.peers.fixtures import tryton_peer``). However many packages import
them, one Tryton server serves the whole test session: the fixture keeps a
process-wide instance and stops it when its last user is torn down.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from connectors.tryton.rpc import TrytonRpc
from gateway.peers.tryton import TrytonPeer

__all__ = [
    "peer_cache_dir",
    "tryton_http",
    "tryton_peer",
    "tryton_rpc",
]

TEST_SCALE = 0.01


def peer_cache_dir() -> Path:
    """Where peer snapshots live: ``$PORTICO_PEER_CACHE`` or the user cache."""
    configured = os.environ.get("PORTICO_PEER_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path("~/.cache/portico/peers").expanduser()


class _SharedPeer:
    """One started peer, counted by the fixture definitions using it."""

    peer: TrytonPeer | None = None
    users = 0


@pytest.fixture(scope="session")
def tryton_peer() -> Iterator[TrytonPeer]:
    """A running Tryton seeded from TPC-H at scale 0.01, for the session.

    Tests share it: they may add records, but must not rely on others not
    having done so, nor change or delete seeded records.
    """
    peer = _SharedPeer.peer
    if peer is None:
        peer = TrytonPeer(peer_cache_dir(), scale=TEST_SCALE)
        peer.start()
        _SharedPeer.peer = peer
    _SharedPeer.users += 1
    try:
        yield peer
    finally:
        _SharedPeer.users -= 1
        if _SharedPeer.users == 0:
            _SharedPeer.peer = None
            peer.stop()


@pytest.fixture
async def tryton_http(tryton_peer: TrytonPeer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose base URL is the Tryton server root."""
    async with httpx.AsyncClient(base_url=tryton_peer.url, timeout=60.0) as http:
        yield http


@pytest.fixture
async def tryton_rpc(
    tryton_peer: TrytonPeer, tryton_http: httpx.AsyncClient
) -> AsyncIterator[TrytonRpc]:
    """A JSON-RPC session logged in as the Tryton admin."""
    rpc = TrytonRpc(
        tryton_http,
        tryton_peer.database,
        tryton_peer.admin_login,
        tryton_peer.admin_password,
    )
    await rpc.login()
    yield rpc
    await rpc.logout()
