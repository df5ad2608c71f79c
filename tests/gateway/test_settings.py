"""Every setting says what it does: the settings models, walked field by field."""

from __future__ import annotations

import typing
from collections.abc import Iterator

from pydantic import BaseModel

from gateway.settings import Settings


def models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation names, inside X | None, list[X],
    dict[str, X] and Annotated[X, ...] too."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from models_in(argument)


def settings_models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    waiting: list[type[BaseModel]] = [Settings]
    while waiting:
        model = waiting.pop()
        if model in found:
            continue
        found.append(model)
        for field in model.model_fields.values():
            waiting.extend(models_in(field.annotation))
    return found


def test_the_walk_reaches_the_nested_sections() -> None:
    names = {model.__name__ for model in settings_models()}

    assert {
        "Settings",
        "DatabaseSettings",
        "WebhookSettings",
        "AttachmentStorageSettings",
        "S3Settings",
        "ConnectorInstanceSettings",
    } <= names


def test_every_settings_field_has_a_description() -> None:
    undescribed = [
        f"{model.__name__}.{name}"
        for model in settings_models()
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]

    assert undescribed == []
