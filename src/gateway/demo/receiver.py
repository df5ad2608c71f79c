"""A dealer's webhook receiver, as a dealer's developer would write one.

It keeps each dealer's signing secret, verifies every delivery with the
reference Standard Webhooks verifier over the exact bytes received, answers
204 to a good signature and 401 to anything else, and counts what it saw:
deliveries, verified ones, duplicates by ``webhook-id`` (a redelivery is
legitimate and must be dropped by the receiver, not by Portico), and bad
signatures. It runs on loopback under uvicorn in the demo's event loop.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.demo.serving import serve_on_loopback

__all__ = ["DealerReceiver", "ReceiverTally", "serve_receiver"]


@dataclass(slots=True)
class ReceiverTally:
    """What the receiver saw; every count is of HTTP requests received."""

    received: int = 0
    verified: int = 0
    duplicates: int = 0
    rejected: int = 0
    by_type: Counter[str] = field(default_factory=Counter)


class DealerReceiver:
    """Webhook endpoints for many dealers, one path each: ``/hooks/{dealer}``."""

    def __init__(self) -> None:
        self._verifiers: dict[str, Webhook] = {}
        self._seen: set[str] = set()
        self.tally = ReceiverTally()
        self.app = Starlette(
            routes=[Route("/hooks/{dealer}", self._receive, methods=["POST"])]
        )

    def register(self, dealer: str, secret: str) -> None:
        """Keep ``dealer``'s signing secret (``whsec_...``), shown once by Portico."""
        self._verifiers[dealer] = Webhook(secret)

    async def _receive(self, request: Request) -> Response:
        self.tally.received += 1
        body = await request.body()
        verifier = self._verifiers.get(request.path_params["dealer"])
        try:
            if verifier is None:
                raise WebhookVerificationError("unknown dealer")
            verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.tally.rejected += 1
            return Response(status_code=401)
        self.tally.verified += 1
        message_id = request.headers["webhook-id"]
        if message_id in self._seen:
            self.tally.duplicates += 1
        else:
            self._seen.add(message_id)
            self.tally.by_type[str(json.loads(body).get("type", "?"))] += 1
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def serve_receiver(receiver: DealerReceiver) -> AsyncIterator[str]:
    """Serve ``receiver`` on a free loopback port; yield its base URL."""
    async with serve_on_loopback(receiver.app, lifespan="off") as (url, _):
        yield url
