"""Objects referenced by id from other objects (``Interaction.customer``,
``Complaint.customer``): one DataLoader per type and request, so a page of
references costs one statement, whichever type holds them."""

from __future__ import annotations

# Plugin types that reference core objects (``Complaint.customer``) annotate them
# ``Annotated["Customer", strawberry.lazy(CURRENT_CORE)]``: while api/schema.py
# builds one schema this module name is that schema's copy of the core types,
# so each schema's plugin fields return its own Customer.
CURRENT_CORE = "api.current_core"


async def load_customer(info, customer_id: int | None):
    """The live customer ``customer_id`` of the caller's tenant, or None."""
    if customer_id is None:
        return None
    from api import queries  # api.types imports this module; queries imports api.types

    ctx = info.context
    loader = ctx.loader("customer", lambda s, ids: queries.customers_by_ids(s, ctx.tenant_id, ids))
    return await loader.load(customer_id)


async def load_interaction(info, interaction_id: int | None):
    """The caller's tenant's interaction ``interaction_id``, or None."""
    if interaction_id is None:
        return None
    from api import queries

    ctx = info.context
    loader = ctx.loader("interaction", lambda s, ids: queries.interactions_by_ids(s, ctx.tenant_id, ids))
    return await loader.load(interaction_id)
