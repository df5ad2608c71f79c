"""Reading one file from a ``multipart/form-data`` body as it arrives.

The body is parsed chunk by chunk with python-multipart's streaming parser;
the file's bytes are handed on as they come, counted against a size limit,
and refused the moment they pass it (413), so an oversized upload is never
read to its end. Before any byte is handed on, the file's first bytes are
read and its type is recognised from them (415 outside the allowed list):
the declared Content-Type and the file name decide nothing.

The rest of the body after the file is read too, and must be as well formed
as the rest: a body the parser refuses anywhere is a 400 that says where and
what, and the file it carried is not kept.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from email.message import Message
from typing import Final

import puremagic
from python_multipart.exceptions import FormParserError, ParseError
from python_multipart.multipart import MultipartParser

from gateway.api.errors import ApiError
from gateway.api.problems import (
    BAD_REQUEST,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
)
from gateway.documents.disposition import clean_filename

#: Bytes read before the type is decided; enough for every signature used.
SNIFF_BYTES: Final = 4096
FILE_FIELD: Final = "file"
_FORM_ESCAPES: Final = re.compile("%(22|0[AD])", re.IGNORECASE)
#: Longest header line of a part (a long file name is in one), and most
#: headers one part may carry.
MAX_HEADER_BYTES: Final = 8 << 10
MAX_HEADER_COUNT: Final = 8


class UploadTooLargeError(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            PAYLOAD_TOO_LARGE,
            f"the file is larger than the limit of {limit} bytes",
        )


class MalformedBodyError(ApiError):
    """The multipart parser refused the body; says at which byte and why."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(
            BAD_REQUEST, f"the multipart body is malformed at byte {offset}: {reason}"
        )
        self.offset = offset


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    field_name: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class IncomingFile:
    filename: str
    media_type: str
    chunks: AsyncIterator[bytes]


def boundary_of(content_type: str | None) -> bytes:
    message = Message()
    message["content-type"] = content_type or ""
    if message.get_content_type() != "multipart/form-data":
        raise ApiError(
            UNSUPPORTED_MEDIA_TYPE,
            f"send the file as multipart/form-data in a field named '{FILE_FIELD}'",
        )
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        raise ApiError(BAD_REQUEST, "the multipart body has no usable boundary")
    return boundary.encode("latin-1")


def form_filename(sent: str) -> str:
    """The file name a browser meant: HTML forms escape exactly ``"``, CR and
    LF in it as ``%22``, ``%0D`` and ``%0A``; anything else is literal."""
    return _FORM_ESCAPES.sub(lambda match: chr(int(match.group(1), 16)), sent)


def sniff(head: bytes, allowed: Collection[str]) -> str:
    """The media type ``head`` shows, if it is one of ``allowed``; else 415."""
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        matches = []
    best = max((match.confidence for match in matches), default=0.0)
    for match in matches:
        if match.confidence == best and match.mime_type in allowed:
            return str(match.mime_type)
    allowed_list = ", ".join(sorted(allowed))
    raise ApiError(
        UNSUPPORTED_MEDIA_TYPE,
        f"the file's content is not of an accepted type ({allowed_list})",
    )


async def read_file(
    body: AsyncIterator[bytes],
    content_type: str | None,
    *,
    max_bytes: int,
    allowed: Collection[str],
) -> IncomingFile:
    """Find the ``file`` part, check its type, and return its byte stream.

    The returned stream raises :class:`UploadTooLargeError` once more than
    ``max_bytes`` arrived, and ApiError 400 if the body ends inside the file.
    """
    reader = _MultipartReader(body, boundary_of(content_type))
    part = await reader.next_file()
    head = bytearray()
    chunks = reader.file_data(part)
    async for chunk in chunks:
        head += chunk
        if len(head) > max_bytes:
            raise UploadTooLargeError(max_bytes)
        if len(head) >= SNIFF_BYTES:
            break
    media_type = sniff(bytes(head[:SNIFF_BYTES]), allowed)

    async def limited() -> AsyncIterator[bytes]:
        size = len(head)
        if head:
            yield bytes(head)
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLargeError(max_bytes)
            yield chunk
        # Parts after the file are read to the body's end (the body limit
        # bounds them), so a malformed one refuses the upload before the
        # file is recorded.
        await reader.finish()

    name = clean_filename(form_filename(part.filename or ""), default="attachment")
    return IncomingFile(filename=name, media_type=media_type, chunks=limited())


class _MultipartReader:
    """Pull-style access to python-multipart's push-style parser."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body.__aiter__()
        self._boundary = boundary
        self._pending: list[tuple[str, _Part, bytes]] = []
        self._finished = False
        self._failure: MalformedBodyError | None = None
        #: Body bytes handed to the parser before the current chunk.
        self._offset = 0
        self._current: _Part | None = None
        self._in_headers = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
            max_header_count=MAX_HEADER_COUNT,
            max_header_size=MAX_HEADER_BYTES,
        )

    async def next_file(self) -> _Part:
        """Skip to the part named ``file`` that carries a file name."""
        while True:
            event = await self._next_event()
            if event is None:
                raise ApiError(
                    BAD_REQUEST, f"the body has no file in a field named '{FILE_FIELD}'"
                )
            kind, part, _ = event
            if kind == "data" and part.field_name == FILE_FIELD:
                if part.filename is None:
                    raise ApiError(
                        BAD_REQUEST, f"the '{FILE_FIELD}' field carries no file name"
                    )
                self._pending.insert(0, event)
                return part

    async def file_data(self, part: _Part) -> AsyncIterator[bytes]:
        while True:
            event = await self._next_event()
            if event is None:
                raise ApiError(BAD_REQUEST, "the body ended inside the file")
            kind, owner, data = event
            if owner is not part:
                continue
            if kind == "end":
                return
            if kind == "data" and data:
                yield data

    async def finish(self) -> None:
        """Read the rest of the body, dropping what it carries."""
        while await self._next_event() is not None:
            pass

    async def _next_event(self) -> tuple[str, _Part, bytes] | None:
        while not self._pending:
            if self._failure is not None:
                raise self._failure
            if self._finished:
                return None
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._finished = True
                self._feed(None)
                continue
            if chunk:
                self._feed(chunk)
        return self._pending.pop(0)

    def _feed(self, chunk: bytes | None) -> None:
        """Hand the parser a chunk (None: the body ended); any error of the
        parser's becomes a 400 naming the byte, counted from the body's start."""
        try:
            if chunk is None:
                self._parser.finalize()
            else:
                self._parser.write(chunk)
        except FormParserError as error:
            within = error.offset if isinstance(error, ParseError) else -1
            at = self._offset + max(within, 0)
            self._pending.clear()
            self._failure = MalformedBodyError(at, self._explain(error))
            raise self._failure from None
        if chunk is not None:
            self._offset += len(chunk)

    def _explain(self, error: FormParserError) -> str:
        """What the client got wrong, in its terms rather than the parser's."""
        message = str(error)
        boundary = self._boundary.decode("latin-1")
        if message.startswith("Maximum header size"):
            return f"a part's header line is longer than {MAX_HEADER_BYTES} bytes"
        if message.startswith("Maximum header count"):
            return f"a part has more than {MAX_HEADER_COUNT} headers"
        if self._current is None:
            return (
                "it does not open with the boundary declared in Content-Type "
                f"('--{boundary}' and a line break)"
            )
        if self._in_headers:
            return (
                "a part's headers must each be a 'Name: value' line, "
                "ended by an empty line"
            )
        return (
            f"a boundary ('--{boundary}') must be followed by a line break, "
            "or by '--' after the last part"
        )

    # Parser callbacks: they only record what happened.

    def _on_part_begin(self) -> None:
        self._current = _Part()
        self._in_headers = True

    def _on_headers_finished(self) -> None:
        self._in_headers = False

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        part = self._require_part()
        if len(self._header_field) + len(self._header_value) > MAX_HEADER_BYTES:
            raise ApiError(
                BAD_REQUEST,
                f"a part's header line is longer than {MAX_HEADER_BYTES} bytes",
            )
        name = self._header_field.decode("latin-1").strip().lower()
        value = self._header_value.decode("utf-8", errors="replace").strip()
        part.headers[name] = value
        self._header_field.clear()
        self._header_value.clear()
        if name == "content-disposition":
            message = Message()
            message["content-disposition"] = value
            field_name = message.get_param("name", header="content-disposition")
            part.field_name = field_name if isinstance(field_name, str) else None
            part.filename = message.get_filename()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._pending.append(("data", self._require_part(), bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._pending.append(("end", self._require_part(), b""))

    def _require_part(self) -> _Part:
        if self._current is None:
            raise ApiError(BAD_REQUEST, "the multipart body is malformed")
        return self._current
