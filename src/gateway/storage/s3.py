"""Attachments in an S3-compatible object store, through aiobotocore.

An upload smaller than one part is a single ``PutObject``; a larger one is a
multipart upload that buffers one part at a time and is aborted if anything
fails, so no half-written object stays behind. Downloads stream the object's
body in chunks.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from domain.ports import StoredObject
from gateway.logs import get_logger
from gateway.storage.settings import S3Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

READ_CHUNK: Final = 64 << 10
_MISSING: Final = frozenset({"NoSuchKey", "404", "NotFound"})


class S3AttachmentStore:
    """Implements :class:`~domain.ports.AttachmentStorePort` on one bucket.

    Use as an async context manager (or call :meth:`start` and
    :meth:`aclose`): it keeps one pooled client for its lifetime.
    """

    def __init__(self, settings: S3Settings) -> None:
        self._settings = settings
        self._exit: contextlib.AsyncExitStack | None = None
        self._client: S3Client | None = None

    async def start(self) -> None:
        credentials: dict[str, Any] = {}
        if self._settings.access_key_id is not None:
            credentials["aws_access_key_id"] = (
                self._settings.access_key_id.get_secret_value()
            )
        if self._settings.secret_access_key is not None:
            credentials["aws_secret_access_key"] = (
                self._settings.secret_access_key.get_secret_value()
            )
        config = AioConfig(
            connect_timeout=self._settings.timeout_seconds,
            read_timeout=self._settings.timeout_seconds,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        stack = contextlib.AsyncExitStack()
        self._client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                region_name=self._settings.region,
                endpoint_url=self._settings.endpoint_url,
                config=config,
                **credentials,
            )
        )
        self._exit = stack

    async def aclose(self) -> None:
        if self._exit is not None:
            await self._exit.aclose()
        self._exit = None
        self._client = None

    async def __aenter__(self) -> S3AttachmentStore:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        client = self._require_client()
        name = self._name(key)
        bucket = self._settings.bucket
        part_bytes = self._settings.part_bytes
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= part_bytes:
                    if upload_id is None:
                        started = await client.create_multipart_upload(
                            Bucket=bucket, Key=name
                        )
                        upload_id = started["UploadId"]
                    parts.append(
                        await self._part(
                            name, upload_id, len(parts) + 1, buffer[:part_bytes]
                        )
                    )
                    del buffer[:part_bytes]
            if upload_id is None:
                await client.put_object(Bucket=bucket, Key=name, Body=bytes(buffer))
            else:
                if buffer:
                    parts.append(
                        await self._part(name, upload_id, len(parts) + 1, buffer)
                    )
                await client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                )
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(ClientError):
                    await client.abort_multipart_upload(
                        Bucket=bucket, Key=name, UploadId=upload_id
                    )
            raise
        return StoredObject(size=size, sha256=digest.hexdigest())

    async def get(self, key: str) -> AsyncIterator[bytes]:
        client = self._require_client()
        try:
            response = await client.get_object(
                Bucket=self._settings.bucket, Key=self._name(key)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise KeyError(key) from None
            raise
        body = response["Body"]
        try:
            while chunk := await body.read(READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await self._require_client().delete_object(
            Bucket=self._settings.bucket, Key=self._name(key)
        )

    async def create_bucket(self) -> None:
        """Create the bucket if it does not exist (for tests and demos)."""
        client = self._require_client()
        with contextlib.suppress(
            client.exceptions.BucketAlreadyOwnedByYou,
            client.exceptions.BucketAlreadyExists,
        ):
            await client.create_bucket(Bucket=self._settings.bucket)

    async def _part(
        self, name: str, upload_id: str, number: int, data: bytearray
    ) -> dict[str, Any]:
        answer = await self._require_client().upload_part(
            Bucket=self._settings.bucket,
            Key=name,
            UploadId=upload_id,
            PartNumber=number,
            Body=bytes(data),
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _name(self, key: str) -> str:
        return f"{self._settings.prefix}{key}"

    def _require_client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("the S3 attachment store is not started")
        return self._client
