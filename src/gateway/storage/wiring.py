"""Opening the configured attachment store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ports import AttachmentStorePort
from gateway.storage.postgres import PostgresAttachmentStore
from gateway.storage.settings import AttachmentStorageSettings, StorageKind


@asynccontextmanager
async def attachment_store(
    settings: AttachmentStorageSettings,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AttachmentStorePort]:
    """The store for the deployment's lifetime, closed on exit."""
    if settings.kind is StorageKind.POSTGRES:
        yield PostgresAttachmentStore(sessions)
        return
    # Imported only when chosen: the S3 SDK is heavy and optional to start.
    from gateway.storage.s3 import S3AttachmentStore

    async with S3AttachmentStore(settings.s3) as store:
        yield store
