"""Attachments as chunked rows in PostgreSQL.

Each object is a run of ``attachment_chunks`` rows of at most
:data:`CHUNK_BYTES`, written in short transactions as the bytes arrive and
read back a few chunks at a time, so neither an upload nor a download holds
a database connection, or the whole object, for its duration.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ports import StoredObject
from gateway.db.engine import transaction
from gateway.db.tables import AttachmentChunkRow

CHUNK_BYTES: Final = 256 << 10
#: Chunks fetched per query while reading.
READ_BATCH: Final = 4


class PostgresAttachmentStore:
    """Implements :class:`~domain.ports.AttachmentStorePort` on ``sessions``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        digest = hashlib.sha256()
        size = 0
        seq = 0
        buffer = bytearray()
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= CHUNK_BYTES:
                    await self._write(key, seq, bytes(buffer[:CHUNK_BYTES]))
                    del buffer[:CHUNK_BYTES]
                    seq += 1
            if buffer or seq == 0:
                await self._write(key, seq, bytes(buffer))
        except BaseException:
            await self.delete(key)
            raise
        return StoredObject(size=size, sha256=digest.hexdigest())

    async def get(self, key: str) -> AsyncIterator[bytes]:
        next_seq = 0
        while True:
            async with self._sessions() as session:
                rows = list(
                    await session.execute(
                        select(AttachmentChunkRow.seq, AttachmentChunkRow.data)
                        .where(
                            AttachmentChunkRow.key == key,
                            AttachmentChunkRow.seq >= next_seq,
                        )
                        .order_by(AttachmentChunkRow.seq)
                        .limit(READ_BATCH)
                    )
                )
            if not rows:
                if next_seq == 0:
                    raise KeyError(key)
                return
            for seq, data in rows:
                next_seq = seq + 1
                if data:
                    yield data

    async def delete(self, key: str) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                delete(AttachmentChunkRow).where(AttachmentChunkRow.key == key)
            )

    async def _write(self, key: str, seq: int, data: bytes) -> None:
        async with transaction(self._sessions) as session:
            session.add(AttachmentChunkRow(key=key, seq=seq, data=data))
