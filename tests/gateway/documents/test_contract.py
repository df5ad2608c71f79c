"""The documents and claims routes keep the contract's rules: a valid
OpenAPI 3.1 document, money never a number (C01), every error a problem."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from gateway.api.contract import money_fields_typed_as_numbers
from gateway.settings import Settings
from tests.gateway.documents.harness import portico_app


@pytest.fixture(scope="module")
async def served(settings: Settings) -> dict[str, Any]:
    async with portico_app(settings) as application:
        document: dict[str, Any] = application.openapi()
        return document


def test_the_document_is_valid_and_has_the_new_paths(served: dict[str, Any]) -> None:
    validate(served)

    assert {
        "/v1/documents",
        "/v1/documents/export",
        "/v1/documents/reconciliation",
        "/v1/documents/{document_id}",
        "/v1/documents/{document_id}/content",
        "/v1/claims",
        "/v1/claims/{claim_id}",
        "/v1/claims/{claim_id}/comments",
        "/v1/claims/{claim_id}/attachments",
        "/v1/claims/{claim_id}/attachments/{attachment_id}",
        "/v1/claims/{claim_id}/withdraw",
    } <= set(served["paths"])


def test_c01_no_money_field_is_a_number(served: dict[str, Any]) -> None:
    assert money_fields_typed_as_numbers(served) == []


def test_every_error_response_is_a_problem(served: dict[str, Any]) -> None:
    for path, item in served["paths"].items():
        if not path.startswith(("/v1/documents", "/v1/claims")):
            continue
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.isdigit() and int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        f"{method.upper()} {path} {status}"
                    )
