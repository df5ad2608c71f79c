"""The AsyncAPI document is the event catalog, and the code emits only it."""

import ast
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api.openapi import render_yaml
from gateway.events.asyncapi import asyncapi_path, build_asyncapi
from gateway.events.catalog import EVENT_TYPES
from gateway.events.outbox import record_event
from tests.support.factories import Caller

SRC = Path(__file__).resolve().parents[3] / "src"


def test_openapi_asyncapi_yaml_is_the_catalog() -> None:
    assert asyncapi_path().read_text("utf-8") == render_yaml(build_asyncapi()), (
        "run 'portico openapi export' and review the diff"
    )


def emitted_types() -> set[str]:
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "event_type"
                and isinstance(node.value, ast.Constant)
            ):
                found.add(str(node.value.value))
    return found


def test_every_event_the_code_emits_is_documented() -> None:
    emitted = emitted_types()

    assert emitted
    assert emitted <= EVENT_TYPES.keys()


async def test_an_undocumented_event_cannot_be_written(
    caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="not in the event catalog"):
            await record_event(
                session,
                event_type="order.teleported",
                account_id=caller.account.id,
                subject="x",
                data={},
            )
