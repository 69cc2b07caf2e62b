"""``Module.settingFields``: what each of a module's settings is, read from
the pydantic model the module declares (``ModuleInfo.settings_model``), so a
client (the console's settings form) can draw an input of the right kind,
with its default, its description and its bounds, without knowing the module.

Only the top-level settings are described, each by the key ``configureModule``
takes; a structured one (a nested object, a list of objects, a map) is of type
JSON and is edited as a JSON value. The model stays the authority: the
description helps a form, ``configureModule`` still validates everything.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, Optional

import annotated_types
import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON


@strawberry.enum(description="The kind of value a module setting holds (Module.settingFields).")
class SettingType(enum.Enum):
    BOOLEAN = strawberry.enum_value("BOOLEAN", description="true or false.")
    INTEGER = strawberry.enum_value("INTEGER", description="A whole number.")
    NUMBER = strawberry.enum_value("NUMBER", description="A number (JSON number).")
    DECIMAL = strawberry.enum_value("DECIMAL", description="An exact decimal, sent as a string or a number (money, rates).")
    TEXT = strawberry.enum_value("TEXT", description="Text.")
    CHOICE = strawberry.enum_value("CHOICE", description="One of `choices`.")
    DATE = strawberry.enum_value("DATE", description="A date, YYYY-MM-DD.")
    LIST = strawberry.enum_value("LIST", description="A list of simple values, each of `itemType` (a JSON array).")
    JSON = strawberry.enum_value("JSON", description="A structured value (object, list of objects, map): edited as JSON.")


@dataclass(frozen=True)
class SettingFieldView:
    path: str
    type: SettingType
    nullable: bool
    default: Any
    description: Optional[str]
    choices: tuple[str, ...] = ()
    item_type: Optional[SettingType] = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    exclusive_minimum: Optional[float] = None
    exclusive_maximum: Optional[float] = None


@strawberry.type(description="One of a module's settings as its module declares it: key, kind, default, description, bounds.")
class SettingField:
    path: str = strawberry.field(description="The setting's key in configureModule's `settings` (snake_case); "
                                             "its errors name it as `settings.<path>`.")
    type: SettingType = strawberry.field(description="The kind of value it holds.")
    nullable: bool = strawberry.field(description="Whether null is allowed (unset: the module's behaviour without it).")
    default: Optional[JSON] = strawberry.field(description="The value when the tenant sets none (JSON).")
    description: Optional[str] = strawberry.field(description="What it does (English, as the module declares it); null when undocumented.")
    choices: list[str] = strawberry.field(description="The allowed values of a CHOICE (or of a LIST's items); empty otherwise.")
    item_type: Optional[SettingType] = strawberry.field(description="The kind of each item of a LIST; null for other types.")
    minimum: Optional[float] = strawberry.field(description="The least value allowed (inclusive); null when unbounded.")
    maximum: Optional[float] = strawberry.field(description="The greatest value allowed (inclusive); null when unbounded.")
    exclusive_minimum: Optional[float] = strawberry.field(description="Values must be greater than this; null when not bounded so.")
    exclusive_maximum: Optional[float] = strawberry.field(description="Values must be less than this; null when not bounded so.")


_SIMPLE = {bool: SettingType.BOOLEAN, int: SettingType.INTEGER, float: SettingType.NUMBER, decimal.Decimal: SettingType.DECIMAL,
           str: SettingType.TEXT, dt.date: SettingType.DATE}


def _strip(annotation) -> tuple[Any, bool, list]:
    """(the annotation without Optional and Annotated, whether None is allowed, Annotated's metadata)."""
    nullable, metadata = False, []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return annotation, nullable, metadata  # a real union: structured
            annotation = args[0]
        else:
            return annotation, nullable, metadata


def _simple(annotation) -> tuple[SettingType | None, tuple[str, ...]]:
    """(type, choices) of a value that is not a container; (None, ()) for anything structured."""
    if typing.get_origin(annotation) is typing.Literal:
        return SettingType.CHOICE, tuple(str(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return SettingType.CHOICE, tuple(str(m.value) for m in annotation)
    for kind, label in _SIMPLE.items():  # bool before int: bool is an int
        if annotation is kind:
            return label, ()
    return None, ()


def describe(name: str, field, default: Any) -> SettingFieldView:
    annotation, nullable, metadata = _strip(field.annotation)
    metadata = [*metadata, *field.metadata]
    kind, choices = _simple(annotation)
    item_type = None
    if kind is None:
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        kind = SettingType.JSON
        if origin in (list, tuple, set, frozenset) and args:
            items = [_simple(_strip(a)[0]) for a in args]
            if all(t is not None and t not in (SettingType.DATE,) for t, _ in items) and len({t for t, _ in items}) == 1:
                kind, item_type, choices = SettingType.LIST, items[0][0], items[0][1]
    bounds: dict[str, float] = {}
    if kind in (SettingType.INTEGER, SettingType.NUMBER, SettingType.DECIMAL):
        for item in metadata:
            for attribute, key in (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusive_minimum"), ("lt", "exclusive_maximum")):
                value = getattr(item, attribute, None)
                if isinstance(item, (annotated_types.BaseMetadata, annotated_types.GroupedMetadata)) and value is not None:
                    bounds[key] = float(value)
    description = " ".join((field.description or "").split()) or None
    return SettingFieldView(name, kind, nullable, default, description, choices, item_type, **bounds)


@functools.lru_cache(maxsize=64)
def setting_fields(model: type[BaseModel]) -> tuple[SettingFieldView, ...]:
    """The top-level settings of ``model``, in declaration order."""
    defaults = model.model_validate({}).model_dump(mode="json")
    return tuple(describe(name, field, defaults.get(name)) for name, field in model.model_fields.items())


def as_graphql(view: SettingFieldView) -> SettingField:
    return SettingField(path=view.path, type=view.type, nullable=view.nullable, default=view.default,
                        description=view.description, choices=list(view.choices), item_type=view.item_type,
                        minimum=view.minimum, maximum=view.maximum, exclusive_minimum=view.exclusive_minimum,
                        exclusive_maximum=view.exclusive_maximum)
