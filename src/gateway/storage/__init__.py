"""Attachment stores: where claim files live, behind
:class:`~domain.ports.AttachmentStorePort`.

- :class:`~gateway.storage.postgres.PostgresAttachmentStore`, the default:
  chunked rows in Portico's own database, so the embedded database needs
  nothing else;
- :class:`~gateway.storage.s3.S3AttachmentStore`, for production: any
  S3-compatible object store.
"""
