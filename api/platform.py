"""The schema platform keys see: tenants, and creating them. Nothing else."""

from __future__ import annotations

import functools
from typing import Annotated, Optional

import strawberry
from api.errors import EXPECTED_FAILURES, expected_failure, forbidden
from api.types import ERRORS, INPUT, Error, Tenant
from engine.enums import Role
from engine.services import keys, tenants


@strawberry.input(description="A new tenant: a business served by this installation.")
class CreateTenantInput:
    slug: str = strawberry.field(description="A short unique name: 2 to 63 lower-case letters, digits or hyphens (the CLI's `--tenant`).")
    name: str = strawberry.field(description="The business's display name.")
    currency: str = strawberry.field(default="CNY", description="ISO 4217 code of the currency amounts are in (default CNY).")
    timezone: str = strawberry.field(default="Asia/Shanghai", description="IANA time zone of the business (default Asia/Shanghai).")
    locale: str = strawberry.field(default="zh-CN", description="BCP 47 locale (default zh-CN).")
    with_admin_key: bool = strawberry.field(default=True, description="Also create an ADMIN key for the tenant.")


@strawberry.type(description="The result of createTenant.")
class TenantPayload:
    tenant: Optional[Tenant] = strawberry.field(default=None, description="The tenant created; null on failure.")
    admin_key: Optional[str] = strawberry.field(default=None, description="The new tenant's admin key, shown once.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


def _platform_only(info: strawberry.Info) -> None:
    if info.context.principal.role is not Role.PLATFORM:
        raise forbidden("only platform keys manage tenants")


@strawberry.type(name="PlatformQuery", description="What a platform key can read: the tenants.")
class PlatformQuery:
    @strawberry.field(description="Every tenant, oldest first.")
    async def tenants(self, info: strawberry.Info) -> list[Tenant]:
        _platform_only(info)
        gx = info.context.gx

        def work() -> list:
            with gx.system(write=False) as session:
                return tenants.list_tenants(session)

        return await info.context.run(work)


@strawberry.type(name="PlatformMutation", description="What a platform key can change: creating tenants.")
class PlatformMutation:
    @strawberry.mutation(description="Create a tenant, and by default its first ADMIN key.")
    async def create_tenant(self, info: strawberry.Info, input: Annotated[CreateTenantInput, INPUT]) -> TenantPayload:
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
        except EXPECTED_FAILURES as error:  # two requests creating one slug: a CONFLICT
            return TenantPayload(errors=errors_of(expected_failure(error)))


@functools.cache
def platform_schema() -> strawberry.Schema:
    from api.schema import GuanxiSchema, limits

    return GuanxiSchema(query=PlatformQuery, mutation=PlatformMutation, extensions=limits())
