"""The schema platform keys see: tenants, and creating them. Nothing else."""

from __future__ import annotations

import functools
from typing import Optional

import strawberry
from sqlalchemy.exc import DataError, IntegrityError

from api.errors import expected_failure, forbidden
from api.types import Error, Tenant
from engine.enums import Role
from engine.errors import GuanxiError
from engine.services import keys, tenants


@strawberry.input
class CreateTenantInput:
    slug: str
    name: str
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    locale: str = "zh-CN"
    with_admin_key: bool = strawberry.field(default=True, description="Also create an ADMIN key for the tenant.")


@strawberry.type
class TenantPayload:
    tenant: Optional[Tenant] = None
    admin_key: Optional[str] = strawberry.field(default=None, description="The new tenant's admin key, shown once.")
    errors: list[Error] = strawberry.field(default_factory=list)


def _platform_only(info: strawberry.Info) -> None:
    if info.context.principal.role is not Role.PLATFORM:
        raise forbidden("only platform keys manage tenants")


@strawberry.type
class PlatformQuery:
    @strawberry.field
    async def tenants(self, info: strawberry.Info) -> list[Tenant]:
        _platform_only(info)
        gx = info.context.gx

        def work() -> list:
            with gx.system(write=False) as session:
                return tenants.list_tenants(session)

        return await info.context.run(work)


@strawberry.type
class PlatformMutation:
    @strawberry.mutation
    async def create_tenant(self, info: strawberry.Info, input: CreateTenantInput) -> TenantPayload:
        from api.mutations import errors_of

        _platform_only(info)
        ctx = info.context

        def work():
            with ctx.gx.system() as session:
                tenant = tenants.create_tenant(
                    session, input.slug, input.name, input.currency, input.timezone, input.locale, actor=ctx.principal.actor
                )
                secret = keys.create_key(session, tenant, "ADMIN", "admin", actor=ctx.principal.actor).secret if input.with_admin_key else None
                return TenantPayload(tenant=tenant, admin_key=secret)

        try:
            return await ctx.run(work)
        except (GuanxiError, IntegrityError, DataError) as error:  # two requests creating one slug: a CONFLICT
            return TenantPayload(errors=errors_of(expected_failure(error)))


@functools.cache
def platform_schema() -> strawberry.Schema:
    from api.schema import GuanxiSchema, limits

    return GuanxiSchema(query=PlatformQuery, mutation=PlatformMutation, extensions=limits())
