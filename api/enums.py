"""Coded values in GraphQL, one rule for every schema: a GraphQL enum with
upper-case values, and where an object shows the value to people, a
``<Enum>Value { code: <Enum>! label(lang: Lang = ZH): String! }`` object.

``labeled_enum(cls)`` turns a Python enum whose members carry zh/en labels
(engine.enums.LabeledEnum, the complaint workflow's enums, a plugin's) into
the GraphQL enum, each value described by its labels; ``value_type(cls)`` is
its ``<Enum>Value`` object type. Both are built once per Python enum, so every
schema shares them. Resolvers of ``<Enum>Value`` fields return the Python
member (or its code); inputs arrive as members of the GraphQL enum, whose
``value`` is the code (``Gender.FEMALE.value == "FEMALE"``), and ``code_of``
gives back that code for the services, which take codes.
"""

# No ``from __future__ import annotations``: value_type annotates with a local enum.
import enum
from typing import Annotated, Any

import strawberry

from engine import enums as _codes


@strawberry.enum(description="Label language.")
class Lang(enum.Enum):
    ZH = strawberry.enum_value("zh", description="Chinese (中文), the default.")
    EN = strawberry.enum_value("en", description="English.")


def _labels(member: Any) -> tuple[str, str]:
    zh, en = getattr(member, "zh", None), getattr(member, "en", None)
    if zh is None and hasattr(member, "label"):
        zh, en = member.label("zh"), member.label("en")
    return zh or member.name, en or member.name


# The ``lang`` argument of every label field.
LangArg = Annotated[Lang, strawberry.argument(description="The label's language: ZH (the default) or EN.")]

_ENUMS: dict[type[enum.Enum], type[enum.Enum]] = {}
_VALUE_TYPES: dict[type[enum.Enum], type] = {}


def labeled_enum(source: type[enum.Enum], name: str | None = None, description: str | None = None) -> type[enum.Enum]:
    """The GraphQL enum of ``source``: its members' names as values, described "English label (中文标签)."
    The first call names and describes it; later calls get the same type."""
    if source in _ENUMS:
        return _ENUMS[source]
    name = name or source.__name__
    members = {}
    for member in source:
        zh, en = _labels(member)
        members[member.name] = strawberry.enum_value(member.name, description=f"{en} ({zh}).")
    graphql_enum = strawberry.enum(enum.Enum(name, members), name=name,
                                   description=description or f"{name} codes (labels in each value's description).")
    return _ENUMS.setdefault(source, graphql_enum)


def code_of(value: Any) -> Any:
    """A GraphQL enum member (or a list of them) as the code string the services take; anything else unchanged."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list):
        return [code_of(item) for item in value]
    return value


def value_type(source: type[enum.Enum], name: str | None = None, description: str | None = None) -> type:
    """``<Enum>Value``: the coded value with its zh/en label, for fields people read."""
    if source in _VALUE_TYPES:
        return _VALUE_TYPES[source]
    graphql_enum = labeled_enum(source, name, description)
    name = strawberry_name(graphql_enum)
    # Looked up by member name: these fields are read for every row of a page.
    codes = {member.name: graphql_enum[member.name] for member in source}
    labels = {member.name: _labels(member) for member in source}

    @strawberry.type(name=f"{name}Value", description=f"A {name} code with its label in Chinese or English.")
    class Value:
        @strawberry.field(description="The stable code: what inputs and filters take.")
        def code(self) -> graphql_enum:  # type: ignore[valid-type]
            return codes[self if isinstance(self, str) else self.name]

        @strawberry.field(description="The value's label for people, in Chinese (the default) or English.")
        def label(self, lang: LangArg = Lang.ZH) -> str:
            zh, en = labels[self if isinstance(self, str) else self.name]
            return zh if lang is Lang.ZH else en

    return _VALUE_TYPES.setdefault(source, Value)


def strawberry_name(graphql_enum: type[enum.Enum]) -> str:
    return graphql_enum.__strawberry_definition__.name


def coded_enum(name: str, description: str, values: dict[str, str]) -> type[enum.Enum]:
    """A GraphQL enum of codes without labels, each value with its description: ``{"ACTIVE": "Can earn and redeem."}``.
    The Python value of each member is its code, which the services take."""
    members = {code: strawberry.enum_value(code, description=text) for code, text in values.items()}
    return strawberry.enum(enum.Enum(name, members), name=name, description=description)


# -- the core's coded values ----------------------------------------------------------

GenderCode = labeled_enum(_codes.Gender, "Gender", "A customer's gender.")
ChannelCode = labeled_enum(_codes.Channel, "Channel", "A contact channel: where an interaction happened, or how a customer likes to be reached.")
InteractionKindCode = labeled_enum(_codes.InteractionKind, "InteractionKind", "What happened between the customer and the business.")
AcquisitionChannelCode = labeled_enum(_codes.AcquisitionChannel, "AcquisitionChannel", "How the customer first came to the business.")
PriceSensitivityCode = labeled_enum(_codes.PriceSensitivity, "PriceSensitivity", "How much price decides the customer's purchases.")
CustomerRoleCode = labeled_enum(_codes.CustomerRole, "CustomerRole", "The customer's standing: potential, existing or churned.")
LifecycleStageCode = labeled_enum(_codes.LifecycleStage, "LifecycleStage", "The customer's stage in the relationship with the business.")
RoleCode = labeled_enum(_codes.Role, "Role", "An API key's role: what it may read and change (docs/api.md, Authentication and roles).")

