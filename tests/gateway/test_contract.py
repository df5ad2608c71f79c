"""The served OpenAPI document is the committed contract, and it is sound."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from openapi_spec_validator import validate

from gateway.api.contract import money_fields_typed_as_numbers
from gateway.api.openapi import contract_path, render_yaml


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(contract_path().read_text("utf-8"))
    return document


def test_the_served_document_equals_openapi_portico_yaml(
    app: FastAPI, committed: dict[str, Any]
) -> None:
    served = app.openapi()

    assert served == committed, "run 'portico openapi export' and review the diff"
    assert render_yaml(served) == contract_path().read_text("utf-8")


def test_the_contract_passes_a_standard_validator(committed: dict[str, Any]) -> None:
    validate(committed)

    assert committed["openapi"].startswith("3.1")


def test_c01_no_money_field_is_a_number(committed: dict[str, Any]) -> None:
    assert money_fields_typed_as_numbers(committed) == []


def test_the_money_check_catches_a_number() -> None:
    document = {
        "components": {
            "schemas": {
                "Line": {
                    "properties": {
                        "unit_price": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                        "quantity": {"type": "integer"},
                        "total": {"type": "string"},
                    }
                }
            }
        }
    }

    found = money_fields_typed_as_numbers(document)

    assert found == ["#/components/schemas/Line/properties/unit_price"]


def test_every_error_response_is_a_problem(committed: dict[str, Any]) -> None:
    for path, item in committed["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    content = response["content"]
                    assert list(content) == ["application/problem+json"], (
                        f"{method.upper()} {path} {status}"
                    )


def test_the_contract_lives_in_openapi(repo_root: Path) -> None:
    assert contract_path() == repo_root / "openapi" / "portico.yaml"
