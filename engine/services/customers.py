"""Customer profiles: create, update, look up, search and erase (DOMAIN.md §1)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from engine.context import TenantContext
from engine.enums import AcquisitionChannel, Channel, CustomerRole, Gender, LifecycleStage, PriceSensitivity
from engine.events import DomainEvent, emit, listening
from engine.errors import Conflict, FieldError, ValidationFailed, not_found
from engine.models import CUSTOMER_PERSONAL_FIELDS, Customer, Interaction
from engine.services import audit
from engine.services.phones import DEFAULT_REGION, normalise_phone, region_of_locale
from engine.types import utcnow

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ENUM_FIELDS = {
    "gender": Gender,
    "acquisition_channel": AcquisitionChannel,
    "preferred_channel": Channel,
    "price_sensitivity": PriceSensitivity,
    "role": CustomerRole,
    "lifecycle_stage": LifecycleStage,
}


class CustomerInput(BaseModel):
    """Fields a caller may set; unset fields are left alone on update."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: Optional[str] = None
    name: Optional[str] = None
    gender: Optional[str] = None
    birthday: Optional[date] = None
    phone: Optional[str] = None
    email: Optional[str] = None
    wechat_id: Optional[str] = None
    region: Optional[str] = None
    city: Optional[str] = None
    occupation: Optional[str] = None
    income_band: Optional[str] = None
    acquisition_channel: Optional[str] = None
    preferred_channel: Optional[str] = None
    price_sensitivity: Optional[str] = None
    skin_type: Optional[str] = None
    preferences: Optional[str] = None
    owner: Optional[str] = None
    store: Optional[str] = None
    referrer_id: Optional[int] = None
    role: Optional[str] = None
    lifecycle_stage: Optional[str] = None
    tags: Optional[list[str]] = None
    attributes: Optional[dict[str, Any]] = None
    consent: Optional[dict[str, bool]] = None

    @field_validator("email")
    @classmethod
    def _email(cls, value):
        if not value:
            return None  # "" clears it
        if not EMAIL_RE.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value, info: ValidationInfo):
        """E.164, the number read in the tenant's region (docs/customers.md)."""
        if not value:
            return None  # "" clears it
        region = (info.context or {}).get("phone_region", DEFAULT_REGION)
        return normalise_phone(value, region)

    @field_validator("birthday")
    @classmethod
    def _birthday(cls, value):
        if value and (value > date.today() or value.year < 1900):
            raise ValueError(f"{value.isoformat()} is not a plausible birthday")
        return value

    @field_validator(*ENUM_FIELDS)
    @classmethod
    def _enum(cls, value, info):
        if value is None or value == "":
            return None
        return ENUM_FIELDS[info.field_name].parse(value).code

    @field_validator("consent")
    @classmethod
    def _consent(cls, value):
        if value:
            return {Channel.parse(k).code: bool(v) for k, v in value.items()}
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value):
        if value is None:
            return None
        tags = []
        for tag in value:
            tag = tag.strip()
            if not tag or len(tag) > 64:
                raise ValueError("each tag must be 1-64 characters")
            if tag not in tags:
                tags.append(tag)
        return tags


def parse_customer_input(data: dict[str, Any], phone_region: str = DEFAULT_REGION) -> CustomerInput:
    """Validated and normalised input; a phone without a country code is read in ``phone_region``."""
    try:
        return CustomerInput.model_validate(data, context={"phone_region": phone_region})
    except ValidationError as error:
        raise ValidationFailed(pydantic_errors(error)) from None


def phone_region(ctx: TenantContext) -> str:
    """The region a tenant's phone numbers are read in: its locale's (zh-CN -> CN)."""
    return region_of_locale(ctx.tenant.locale)


def _parse(ctx: TenantContext, data: dict[str, Any] | CustomerInput) -> CustomerInput:
    return data if isinstance(data, CustomerInput) else parse_customer_input(data, phone_region(ctx))


def pydantic_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    out = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        out.append(FieldError(prefix + field, message))
    return out


def _check_references(ctx: TenantContext, values: dict[str, Any], customer_id: int | None = None) -> None:
    errors = []
    referrer_id = values.get("referrer_id")
    if referrer_id is not None:
        if referrer_id == customer_id:
            errors.append(FieldError("referrer_id", "a customer cannot refer themselves"))
        elif get_customer_or_none(ctx.session, ctx.tenant_id, referrer_id) is None:
            errors.append(FieldError("referrer_id", f"no customer {referrer_id} in this tenant", "NOT_FOUND"))
    code = values.get("code")
    if code:
        clash = ctx.session.exec(
            select(Customer.id).where(Customer.tenant_id == ctx.tenant_id, Customer.code == code)
        ).first()
        if clash is not None and clash != customer_id:
            errors.append(FieldError("code", f"customer code {code!r} is already used", "CONFLICT"))
    phone = values.get("phone")
    if phone:
        owner = phone_owner(ctx.session, ctx.tenant_id, phone, customer_id)
        if owner is not None:
            errors.append(_phone_taken(phone, owner))
    if errors:
        raise (Conflict if all(e.code == "CONFLICT" for e in errors) else ValidationFailed)(errors)


def phone_owner(session: Session, tenant_id: int, phone: str, other_than: int | None = None) -> Customer | None:
    """The live customer holding ``phone`` (one at most: a unique index says so)."""
    query = select(Customer).where(Customer.tenant_id == tenant_id, Customer.phone == phone, Customer.deleted_at.is_(None))
    if other_than is not None:
        query = query.where(Customer.id != other_than)
    return session.exec(query).first()


def _phone_taken(phone: str, owner: Customer) -> FieldError:
    who = f"customer {owner.code!r}" if owner.code else f"customer {owner.id} (no code)"
    return FieldError("phone", f"phone {phone} is already used by {who}", "CONFLICT")


def _save_unique_phone(ctx: TenantContext, customer: Customer, changes: dict[str, Any]) -> None:
    """Apply ``changes`` to ``customer`` and flush, inside a savepoint; when a
    concurrent writer took the phone since the check (the unique index refuses
    the row), the same CONFLICT error as the check. The changes are made inside
    the savepoint because opening one flushes whatever is pending first."""
    phone = changes.get("phone", customer.phone)  # read now: rolling the savepoint back expires the row
    try:
        with ctx.session.begin_nested():
            for key, value in changes.items():
                setattr(customer, key, value)
            ctx.session.add(customer)
            ctx.session.flush()
    except IntegrityError:
        with ctx.session.no_autoflush:
            owner = phone_owner(ctx.session, ctx.tenant_id, phone, customer.id) if phone else None
        if owner is None:
            raise
        raise Conflict([_phone_taken(phone, owner)]) from None


def create_customer(ctx: TenantContext, data: dict[str, Any] | CustomerInput) -> Customer:
    values = _parse(ctx, data).model_dump(exclude_none=True)
    _check_references(ctx, values)
    customer = Customer(tenant_id=ctx.tenant_id, **values)
    _save_unique_phone(ctx, customer, {})
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "customer.create", "Customer", customer.id, {"fields": sorted(values)})
    emit(ctx, [customer_event("customer.created", customer, sorted(values))])
    return customer


def customer_event(event_type: str, customer: Customer, fields: list[str]) -> DomainEvent:
    """An event about a customer: its code and which fields were set, never their values
    (a receiver that needs them asks the API, where roles and erasure apply)."""
    return DomainEvent(event_type, {"code": customer.code, "fields": fields}, customer_id=customer.id)


def customers_created_events(ctx: TenantContext, created: list[tuple[int, str | None, list[str]]]) -> None:
    """``customer.created`` for rows a bulk path inserted itself: (id, code, fields set)."""
    if created and listening(ctx):
        emit(ctx, [DomainEvent("customer.created", {"code": code, "fields": fields}, customer_id=pk)
                   for pk, code, fields in created])


def update_customer(ctx: TenantContext, customer_id: int, data: dict[str, Any] | CustomerInput) -> Customer:
    customer = get_customer(ctx.session, ctx.tenant_id, customer_id)
    if customer.erased_at is not None:
        raise ValidationFailed([FieldError("id", "this customer was erased and cannot be updated", "ERASED")])
    values = _parse(ctx, data).model_dump(exclude_unset=True)
    _check_references(ctx, values, customer_id)
    changed = {key: value for key, value in values.items() if getattr(customer, key) != value}
    if changed:
        _save_unique_phone(ctx, customer, {**changed, "updated_at": utcnow()})
        # Field names only: the audit trail must not copy personal data.
        audit.record(ctx.session, ctx.tenant_id, ctx.actor, "customer.update", "Customer", customer.id, {"fields": sorted(changed)})
        emit(ctx, [customer_event("customer.updated", customer, sorted(changed))])
    return customer


def get_customer_or_none(session: Session, tenant_id: int, customer_id: int) -> Customer | None:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant_id or customer.deleted_at is not None:
        return None
    return customer


def get_customer(session: Session, tenant_id: int, customer_id: int) -> Customer:
    customer = get_customer_or_none(session, tenant_id, customer_id)
    if customer is None:
        raise not_found("customer_id", f"no customer {customer_id} in this tenant")
    return customer


def find_by_code(session: Session, tenant_id: int, code: str) -> Customer | None:
    return session.exec(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.code == code, Customer.deleted_at.is_(None))
    ).first()


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def delete_customer(ctx: TenantContext, customer_id: int) -> Customer:
    """Soft delete: hidden from lists, history kept, can be erased later."""
    customer = get_customer(ctx.session, ctx.tenant_id, customer_id)
    customer.deleted_at = utcnow()
    ctx.session.add(customer)
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "customer.delete", "Customer", customer.id)
    return customer


def erase_customer(ctx: TenantContext, customer_id: int) -> Customer:
    """Remove personal data everywhere; anonymous purchase facts and stats stay.

    The columns each installed module declares personal (``ModuleInfo.personal_fields``)
    are cleared on its rows that carry the customer's id; anything else a
    plugin stored it removes itself through ``guanxi_customer_erased``. Both
    reach every installed module, enabled for the tenant or not: a module
    switched off keeps its rows, and switching it back on must not bring
    the person back.
    """
    customer = get_customer(ctx.session, ctx.tenant_id, customer_id)
    if customer.erased_at is not None:
        return customer
    for field_name in CUSTOMER_PERSONAL_FIELDS:
        default = Customer.model_fields[field_name].get_default(call_default_factory=True)
        setattr(customer, field_name, default)
    customer.owner = None
    customer.erased_at = utcnow()
    customer.updated_at = customer.erased_at
    ctx.session.add(customer)
    # Others this customer referred keep their history but lose the link.
    ctx.session.execute(
        update(Customer)
        .where(Customer.tenant_id == ctx.tenant_id, Customer.referrer_id == customer_id)
        .values(referrer_id=None)
    )
    _erase_interaction_personal_data(ctx, customer_id)
    _erase_declared_personal_fields(ctx, customer_id)
    ctx.plugins.hook.guanxi_customer_erased(ctx=ctx, customer_id=customer_id)  # every plugin, not ctx.hooks
    ctx.session.flush()
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "customer.erase", "Customer", customer.id)
    emit(ctx, [DomainEvent("customer.erased", {}, customer_id=customer.id)])  # after the hooks erased older events' data
    return customer


def _erase_declared_personal_fields(ctx: TenantContext, customer_id: int) -> None:
    """Clear declared personal columns (NULL, or '' where the column must have a value)
    on every installed module's rows about the customer. Tables without a
    ``customer_id`` column (a case's notes, say) are left to the module's hook."""
    modules = ctx.plugins.modules
    for name in sorted(modules):
        for table_name, columns in modules[name].personal_fields.items():
            table = SQLModel.metadata.tables.get(table_name)
            if table is None or "customer_id" not in table.c or "tenant_id" not in table.c:
                continue
            blank = {c: (None if table.c[c].nullable else "") for c in columns}
            ctx.session.execute(
                update(table).where(table.c.tenant_id == ctx.tenant_id, table.c.customer_id == customer_id).values(blank)
            )


def _erase_interaction_personal_data(ctx: TenantContext, customer_id: int) -> None:
    """Free-text payloads (notes, messages) may hold personal data: drop them."""
    ctx.session.execute(
        update(Interaction)
        .where(Interaction.tenant_id == ctx.tenant_id, Interaction.customer_id == customer_id)
        .values(payload={})
    )
