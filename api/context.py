"""Per-request state handed to resolvers as ``info.context``: who is calling
(the authenticated key), the engine, DataLoaders, and helpers that run
database work in a worker thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel import Session
from strawberry.dataloader import DataLoader

from api.errors import forbidden
from api.pagination import Cursors
from api.threads import run_db
from engine.context import TenantContext
from engine.enums import Role
from engine.models import Tenant
from engine.runtime import Guanxi

T = TypeVar("T")


class SharedLoader(DataLoader):
    """A DataLoader whose cached futures survive one waiter being cancelled.

    graphql-core cancels the sibling fields of a field that fails; cancelling
    a task cancels the future it awaits, and a DataLoader hands the same cached
    future to every field that asks for the same key. Unshielded, one failing
    field would cancel an unrelated field's load, and the CancelledError would
    abort the whole request instead of returning a GraphQL error.
    """

    def load(self, key: Any) -> Any:
        future = super().load(key)
        # When every waiter was cancelled, nobody reads a failed load's error
        # and asyncio would log "Future exception was never retrieved".
        future.add_done_callback(_retrieve_error)
        return asyncio.shield(future)


def _retrieve_error(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


# Within a tenant, each role can do everything the roles below it can.
RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.AGENT: 2, Role.ADMIN: 3}


@dataclass(frozen=True)
class Principal:
    """The caller: an active API key, its role and (unless a platform key) its tenant."""

    key_id: int
    role: Role
    tenant: Tenant | None
    modules: frozenset[str] = frozenset()

    @property
    def actor(self) -> str:
        return f"api-key:{self.key_id}"

    @property
    def tenant_id(self) -> int:
        assert self.tenant is not None and self.tenant.id is not None
        return self.tenant.id


@dataclass
class RequestContext:
    gx: Guanxi
    principal: Principal
    cursors: Cursors
    request_id: str = ""
    jobs: Any = None  # the API's own job runner (api/job_runner.py), None when workers run the queue
    cost_budget: int | None = None  # objects a query may ask for (api/cost.py); None: the role's default
    _loaders: dict[Any, DataLoader] = field(default_factory=dict)
    _batch_pairs: dict[Any, tuple] = field(default_factory=dict)  # batch spec -> (loader key, batch)
    _prefetched: dict[Any, dict] = field(default_factory=dict)  # loader key -> {customer id: value}

    # -- authorisation ---------------------------------------------------------
    def can(self, role: Role) -> bool:
        return self.principal.role in RANK and RANK[self.principal.role] >= RANK[role]

    def require(self, role: Role, action: str) -> None:
        if not self.can(role):
            raise forbidden(f"{action} needs the {role.code.lower()} role or higher; this key is {self.principal.role.code.lower()}")

    @property
    def tenant_id(self) -> int:
        return self.principal.tenant_id

    # -- database work, off the event loop ----------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await run_db(self.gx, fn, *args)

    async def read(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` in a read transaction bound to the caller's tenant, in a worker thread."""
        tenant_id = self.tenant_id

        def work() -> T:
            with self.gx.tenant_session(tenant_id) as session:
                return fn(session)

        return await self.run(work)

    async def write(self, fn: Callable[[TenantContext], T]) -> T:
        """``fn(ctx)`` in one write transaction of the caller's tenant, in a worker thread."""

        def work() -> T:
            with self.gx.tenant(self.principal.tenant, actor=self.principal.actor) as ctx:
                return fn(ctx)

        return await self.run(work)

    # -- DataLoaders, one per relation (and arguments) per request --------------
    def loader(self, key: Any, batch: Callable[[Session, list], dict]) -> DataLoader:
        """A per-request DataLoader whose batch is ``batch(session, keys) -> {key: value}``.

        Plugins use this for their Customer fields so a page costs one
        statement per field, not one per customer.
        """
        loader = self._loaders.get(key)
        if loader is None:

            async def load(keys: list) -> list:
                found = await self.read(lambda session: batch(session, list(keys)))
                return [found.get(k) for k in keys]

            loader = self._loaders[key] = SharedLoader(load_fn=load)
        return loader

    # -- plugin Customer fields loaded with a page (api/prefetch.py) -------------
    def batch_pair(self, spec: Callable) -> tuple[Any, Callable]:
        """``spec(self)``, worked out once per request."""
        pair = self._batch_pairs.get(spec)
        if pair is None:
            pair = self._batch_pairs[spec] = spec(self)
        return pair

    def keep_prefetched(self, batches: dict[Any, dict]) -> None:
        for key, values in batches.items():
            self._prefetched.setdefault(key, {}).update(values)

    def customer_value(self, spec: Callable, customer_id: int) -> Any:
        """A plugin Customer field's value: at once when the customer's page
        loaded it, else an awaitable from the field's DataLoader."""
        key, batch = self.batch_pair(spec)
        values = self._prefetched.get(key)
        if values is not None and customer_id in values:
            return values[customer_id]
        return self.loader(key, batch).load(customer_id)
