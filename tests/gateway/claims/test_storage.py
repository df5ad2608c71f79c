"""The attachment stores: PostgreSQL chunks, and S3 against moto's
standalone S3-compatible server (from PyPI), started on 127.0.0.1 for the
session and stopped by its pid."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ports import AttachmentStorePort
from gateway.backends import Backends
from gateway.peers.ports import LOOPBACK, free_port, stop_process, wait_for_port
from gateway.settings import Settings
from gateway.storage.postgres import CHUNK_BYTES, PostgresAttachmentStore
from gateway.storage.s3 import S3AttachmentStore
from gateway.storage.settings import S3Settings
from tests.gateway.claims.conftest import (
    CLAIMS,
    ClaimWorker,
    claim_body,
    delivered_order,
    file_claim,
)
from tests.gateway.documents.harness import client_of, portico_app
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller

MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))


class Interrupted(Exception):
    """A client that went away halfway through its upload."""


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [MOTO_SERVER, "-H", LOOPBACK, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(LOOPBACK, port, timeout=30, process=process)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        stop_process(process)


@pytest.fixture
async def s3_store(s3_endpoint: str) -> AsyncIterator[S3AttachmentStore]:
    settings = S3Settings(
        endpoint_url=s3_endpoint,
        bucket="portico-test",
        access_key_id=SecretStr("testing"),
        secret_access_key=SecretStr("testing"),
        part_bytes=5 << 20,
    )
    async with S3AttachmentStore(settings) as store:
        await store.create_bucket()
        yield store


@pytest.fixture
def pg_store(sessions: async_sessionmaker[AsyncSession]) -> PostgresAttachmentStore:
    return PostgresAttachmentStore(sessions)


async def pieces(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def interrupted(data: bytes, after: int) -> AsyncIterator[bytes]:
    async for piece in pieces(data):
        if after <= 0:
            raise Interrupted
        after -= len(piece)
        yield piece


async def read_all(store: AttachmentStorePort, key: str) -> tuple[bytes, int]:
    chunks = [chunk async for chunk in store.get(key)]
    return b"".join(chunks), len(chunks)


def payload(size: int) -> bytes:
    return (hashlib.sha256(b"portico").digest() * (size // 32 + 1))[:size]


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, 3 * CHUNK_BYTES + 17])
async def test_postgres_store_round_trips_in_chunks(
    pg_store: PostgresAttachmentStore, size: int
) -> None:
    data = payload(size)

    stored = await pg_store.put("claim/a", pieces(data))
    back, chunk_count = await read_all(pg_store, "claim/a")

    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert back == data
    assert chunk_count == -(-size // CHUNK_BYTES)


async def test_postgres_store_leaves_nothing_of_a_broken_upload(
    pg_store: PostgresAttachmentStore,
) -> None:
    with pytest.raises(Interrupted):
        await pg_store.put(
            "claim/b", interrupted(payload(2 * CHUNK_BYTES), CHUNK_BYTES)
        )

    with pytest.raises(KeyError):
        await read_all(pg_store, "claim/b")


async def test_s3_store_round_trips_small_and_multipart_objects(
    s3_store: S3AttachmentStore,
) -> None:
    small = payload(1000)
    large = payload(11 << 20)  # three parts of 5 MiB, the last one short

    small_stored = await s3_store.put("claim/small", pieces(small))
    large_stored = await s3_store.put("claim/large", pieces(large, 1 << 20))
    small_back, _ = await read_all(s3_store, "claim/small")
    large_back, large_chunks = await read_all(s3_store, "claim/large")

    assert small_stored.size == 1000
    assert small_back == small
    assert large_stored.sha256 == hashlib.sha256(large).hexdigest()
    assert large_back == large
    assert large_chunks > 1  # streamed, not read whole


async def test_s3_store_aborts_a_broken_upload_and_deletes(
    s3_store: S3AttachmentStore,
) -> None:
    with pytest.raises(Interrupted):
        await s3_store.put("claim/broken", interrupted(payload(12 << 20), 6 << 20))
    await s3_store.put("claim/gone", pieces(b"x"))
    await s3_store.delete("claim/gone")

    with pytest.raises(KeyError):
        await read_all(s3_store, "claim/broken")
    with pytest.raises(KeyError):
        await read_all(s3_store, "claim/gone")


async def test_attachments_go_through_the_api_to_s3_and_back(
    settings: Settings,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    s3_store: S3AttachmentStore,
) -> None:
    backends = Backends(erp=erp, erp_name="erp", cms=erp, cms_name="erp")
    data = b"%PDF-1.4\n" + payload(300_000)
    async with (
        portico_app(settings, backends, claims=CLAIMS, store=s3_store) as app,
        client_of(app) as api,
    ):
        order = await delivered_order(api, erp, worker, dealer, [("P1", 2)])
        claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 1)))).json()
        uploaded = await api.post(
            f"/v1/claims/{claim['id']}/attachments",
            files={"file": ("scan.pdf", data, "application/pdf")},
            headers=dealer.headers,
        )
        downloaded = await api.get(
            uploaded.json()["content_url"], headers=dealer.headers
        )

    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert downloaded.content == data
