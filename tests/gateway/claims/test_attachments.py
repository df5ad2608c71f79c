"""Claim attachments: streamed in under a limit (413 before the rest is
read), typed by their content (415), named as sent, downloaded safely (C06)
and only by their account (C10)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.tables import AttachmentChunkRow, ClaimAttachmentRow
from tests.gateway.claims.conftest import (
    ATTACHMENT_LIMIT,
    CLAIMS,
    ClaimWorker,
    claim_body,
    delivered_order,
    file_claim,
)
from tests.gateway.orders.conftest import linked_caller
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller

BOUNDARY = "portico-test-boundary"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 1200 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def multipart(filename: str, data: bytes, declared: str = "application/pdf") -> bytes:
    return b"".join(
        [
            f"--{BOUNDARY}\r\n".encode(),
            b'Content-Disposition: form-data; name="note"\r\n\r\nignored\r\n',
            f"--{BOUNDARY}\r\n".encode(),
            b'Content-Disposition: form-data; name="file"; filename="'
            + filename.encode()
            + b'"\r\n',
            f"Content-Type: {declared}\r\n\r\n".encode(),
            data,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ]
    )


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


async def upload(
    api: httpx.AsyncClient,
    caller: Caller,
    claim_id: str,
    body: bytes | AsyncIterator[bytes],
    **headers: str,
) -> httpx.Response:
    return await api.post(
        f"/v1/claims/{claim_id}/attachments",
        content=body,
        headers={**caller.headers, "Content-Type": CONTENT_TYPE, **headers},
    )


async def open_claim(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, caller: Caller
) -> dict[str, Any]:
    order = await delivered_order(api, erp, worker, caller, [("P1", 5)])
    claim: dict[str, Any] = (
        await file_claim(api, caller, claim_body(order["id"], (1, 1)))
    ).json()
    return claim


async def stored_chunks(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(AttachmentChunkRow))
            or 0
        )


async def nothing_stored(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """No stored bytes and no attachment rows: an upload left nothing behind."""
    async with sessions() as session:
        rows = await session.scalar(select(func.count(ClaimAttachmentRow.id)))
    return await stored_chunks(sessions) == 0 and rows == 0


async def test_a_file_is_stored_typed_by_content_and_downloaded_whole(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    claim = await open_claim(api, erp, worker, dealer)

    # Declared as an image and named .jpg; the content says PDF.
    response = await upload(
        api, dealer, claim["id"], multipart("photo.jpg", PDF, "image/jpeg")
    )
    attachment = response.json()
    download = await api.get(attachment["content_url"], headers=dealer.headers)
    read = (await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)).json()

    assert response.status_code == 201, response.text
    assert attachment["filename"] == "photo.jpg"
    assert attachment["media_type"] == "application/pdf"
    assert attachment["size"] == len(PDF)
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert [item["id"] for item in read["attachments"]] == [attachment["id"]]
    assert await stored_chunks(sessions) > 1  # chunked, not one blob


@pytest.mark.parametrize(
    ("name", "fallback", "exact"),
    [
        ("Счёт-фактура №12.pdf", "No12.pdf", "Счёт-фактура №12.pdf"),
        ('a"b\r\nc.pdf', "a_bc.pdf", 'a"bc.pdf'),
    ],
)
async def test_c06_attachment_names_are_kept_and_sent_safely(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    name: str,
    fallback: str,
    exact: str,
) -> None:
    claim = await open_claim(api, erp, worker, dealer)
    # The quote and the line break travel escaped, as a browser sends them.
    sent = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    response = await upload(api, dealer, claim["id"], multipart(sent, PNG))

    download = await api.get(response.json()["content_url"], headers=dealer.headers)

    assert response.status_code == 201, response.text
    disposition = download.headers["content-disposition"]
    assert disposition.isascii()
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert disposition.startswith(f'attachment; filename="{fallback}"; ')
    assert disposition.count('"') == 2
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == exact


async def test_a_type_outside_the_list_is_a_415_and_nothing_is_kept(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    claim = await open_claim(api, erp, worker, dealer)
    program = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 4000

    disguised = await upload(
        api, dealer, claim["id"], multipart("invoice.pdf", program, "application/pdf")
    )
    text = await upload(api, dealer, claim["id"], multipart("notes.pdf", b"hello"))
    not_multipart = await api.post(
        f"/v1/claims/{claim['id']}/attachments",
        content=PDF,
        headers={**dealer.headers, "Content-Type": "application/pdf"},
    )

    assert disguised.status_code == 415
    assert "application/pdf" in disguised.json()["detail"]
    assert text.status_code == 415
    assert not_multipart.status_code == 415
    assert await stored_chunks(sessions) == 0


async def test_an_upload_over_the_limit_is_a_413_before_the_body_is_read(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    claim = await open_claim(api, erp, worker, dealer)
    body = multipart("big.pdf", PDF[:16] + b"\x00" * (ATTACHMENT_LIMIT * 4))
    chunk_size = 16 << 10
    sent: list[int] = []

    async def trickle() -> AsyncIterator[bytes]:
        for offset in range(0, len(body), chunk_size):
            sent.append(offset)
            yield body[offset : offset + chunk_size]

    streamed = await upload(api, dealer, claim["id"], trickle())
    declared = await upload(
        api,
        dealer,
        claim["id"],
        multipart("small.pdf", PDF),
        **{"Content-Length": str(ATTACHMENT_LIMIT + (16 << 10) + 1)},
    )

    total_chunks = -(-len(body) // chunk_size)
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "payload_too_large"
    assert len(sent) < total_chunks / 2
    assert declared.status_code == 413
    assert await nothing_stored(sessions)


async def test_c10_anothers_attachment_is_not_found(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    other = await linked_caller(sessions, customer_ref="CUST-2", name="Other AG")
    theirs = await open_claim(api, erp, worker, other)
    mine = await open_claim(api, erp, worker, dealer)
    attachment = (
        await upload(api, other, theirs["id"], multipart("x.pdf", PDF))
    ).json()

    direct = await api.get(attachment["content_url"], headers=dealer.headers)
    via_my_claim = await api.get(
        f"/v1/claims/{mine['id']}/attachments/{attachment['id']}",
        headers=dealer.headers,
    )
    upload_to_theirs = await upload(api, dealer, theirs["id"], multipart("y.pdf", PDF))
    unknown = await api.get(
        f"/v1/claims/{mine['id']}/attachments/{uuid.uuid4()}", headers=dealer.headers
    )

    assert direct.status_code == 404
    assert via_my_claim.status_code == 404
    assert upload_to_theirs.status_code == 404
    assert unknown.status_code == 404


async def test_a_closed_claim_takes_no_more_files(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    claim = await open_claim(api, erp, worker, dealer)
    await api.post(f"/v1/claims/{claim['id']}/withdraw", headers=dealer.headers)

    response = await upload(api, dealer, claim["id"], multipart("late.pdf", PDF))

    assert response.status_code == 409


async def stored_keys(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(select(AttachmentChunkRow.key).distinct()))


async def recorded_keys(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(select(ClaimAttachmentRow.storage_key)))


def file_part(boundary: bytes, filename: bytes, data: bytes) -> bytes:
    return b"".join(
        [
            b"--" + boundary + b"\r\n",
            b'Content-Disposition: form-data; name="file"; filename="',
            filename,
            b'"\r\nContent-Type: application/pdf\r\n\r\n',
            data,
            b"\r\n",
        ]
    )


#: Bodies python-multipart refuses, sent with ``boundary=bnd``; each must be
#: a 400 that says what is wrong, never a 500.
MALFORMED = {
    "no boundary at all": b"garbage without boundary at all",
    "another boundary": file_part(b"other", b"a.pdf", PDF) + b"--other--\r\n",
    "a header line that is no header": b"--bnd\r\nxxxx\r\n\r\n",
    "a header without a colon": (
        b"--bnd\r\nContent-Disposition form-data name=file\r\n\r\n"
        + PDF
        + b"\r\n--bnd--\r\n"
    ),
    "a NUL after the boundary": b"--bnd\x00\r\n",
    "a header over 8 KB": file_part(b"bnd", b"a" * 10_000 + b".pdf", PDF)
    + b"--bnd--\r\n",
    "a good file, then a broken part": file_part(b"bnd", b"a.pdf", PDF)
    + b"--bnd\r\nbroken header\r\n\r\nx\r\n--bnd--\r\n",
}


@pytest.mark.parametrize("trickled", [False, True], ids=["whole", "trickled"])
@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_malformed_multipart_body_is_a_400_and_nothing_is_kept(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
    body: bytes,
    trickled: bool,
) -> None:
    claim = await open_claim(api, erp, worker, dealer)

    async def trickle() -> AsyncIterator[bytes]:
        # As a server hands a body on: in pieces, the broken bit arriving
        # long after the file part has begun (or ended).
        for offset in range(0, len(body), 16 << 10):
            yield body[offset : offset + (16 << 10)]

    response = await upload(
        api,
        dealer,
        claim["id"],
        trickle() if trickled else body,
        **{"Content-Type": "multipart/form-data; boundary=bnd"},
    )
    read = (await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)).json()

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "bad_request"
    assert problem["type"] == "urn:portico:problem:bad_request"
    assert problem["detail"].startswith("the multipart body is malformed at byte ")
    assert problem["instance"] == f"/v1/claims/{claim['id']}/attachments"
    assert read["attachments"] == []
    assert await nothing_stored(sessions)


async def test_a_broken_part_after_the_file_is_a_400_though_it_comes_later(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    claim = await open_claim(api, erp, worker, dealer)
    body = MALFORMED["a good file, then a broken part"]
    # The file part is whole in the first piece, its closing boundary too.
    split = body.index(b"broken header")

    async def two_pieces() -> AsyncIterator[bytes]:
        yield body[:split]
        yield body[split:]

    response = await upload(
        api,
        dealer,
        claim["id"],
        two_pieces(),
        **{"Content-Type": "multipart/form-data; boundary=bnd"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["detail"] == (
        f"the multipart body is malformed at byte {split + 6}: a part's headers "
        "must each be a 'Name: value' line, ended by an empty line"
    )
    assert await nothing_stored(sessions)


async def test_a_malformed_body_is_explained(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
) -> None:
    claim = await open_claim(api, erp, worker, dealer)

    async def detail(body: bytes) -> str:
        response = await upload(
            api,
            dealer,
            claim["id"],
            body,
            **{"Content-Type": "multipart/form-data; boundary=bnd"},
        )
        assert response.status_code == 400, response.text
        text: str = response.json()["detail"]
        return text

    assert await detail(MALFORMED["another boundary"]) == (
        "the multipart body is malformed at byte 2: it does not open with the "
        "boundary declared in Content-Type ('--bnd' and a line break)"
    )
    assert await detail(MALFORMED["a header without a colon"]) == (
        "the multipart body is malformed at byte 26: a part's headers must each "
        "be a 'Name: value' line, ended by an empty line"
    )
    assert await detail(MALFORMED["a header over 8 KB"]) == (
        "the multipart body is malformed at byte 28: a part's header line is "
        "longer than 8192 bytes"
    )
    tail = MALFORMED["a good file, then a broken part"]
    assert await detail(tail) == (
        f"the multipart body is malformed at byte {tail.index(b'broken') + 6}: "
        "a part's headers must each be a 'Name: value' line, ended by an empty line"
    )


async def test_the_file_limit_holds_under_concurrent_uploads(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    limit = CLAIMS.max_attachments
    claim = await open_claim(api, erp, worker, dealer)
    for index in range(limit - 1):
        response = await upload(
            api, dealer, claim["id"], multipart(f"{index}.png", PNG)
        )
        assert response.status_code == 201, response.text

    answers = await asyncio.gather(
        *(
            upload(api, dealer, claim["id"], multipart(f"race-{index}.pdf", PDF))
            for index in range(10)
        )
    )
    sequential = await upload(api, dealer, claim["id"], multipart("late.pdf", PDF))
    read = (await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)).json()

    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 9
    assert sequential.status_code == 409
    refusal = sequential.json()
    for answer in answers:
        if answer.status_code == 409:
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == refusal["code"] == "conflict"
            assert answer.json()["detail"] == refusal["detail"]
    assert refusal["detail"] == f"a claim carries at most {limit} files"
    assert len(read["attachments"]) == limit
    # The losers' streamed bytes were removed: every stored object is a file.
    assert await stored_keys(sessions) == await recorded_keys(sessions)
    assert len(await recorded_keys(sessions)) == limit
