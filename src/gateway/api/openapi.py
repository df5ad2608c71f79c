"""The OpenAPI document as Portico publishes it.

FastAPI generates the paths; this adds the problem schema every error refers
to and replaces FastAPI's own validation-error shape, which Portico never
returns, with it. ``openapi/portico.yaml`` is this document, committed and
reviewed; a test keeps the two equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.api.problems import PROBLEM_MEDIA_TYPE, FieldError, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault(
        "schemas", {}
    )
    for model in (Problem, FieldError):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)
        schemas[model.__name__] = schema
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": "The request did not pass validation",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
                }
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def contract_path() -> Path:
    """``openapi/portico.yaml`` in the source tree."""
    return Path(__file__).resolve().parents[3] / "openapi" / "portico.yaml"


class _ContractDumper(yaml.SafeDumper):
    """Writes multi-line text as literal blocks, so descriptions read as prose."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ContractDumper.add_representer(str, _represent_str)


def render_yaml(document: dict[str, Any]) -> str:
    rendered: str = yaml.dump(
        document,
        Dumper=_ContractDumper,
        sort_keys=False,
        allow_unicode=True,
        width=88,
        indent=2,
    )
    return rendered
