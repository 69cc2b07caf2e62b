"""``lifecycleOverview``: retention, churn and repurchase over any period, for
the console's home page (plugins/lifecycle/overview.py). Registered in plugin.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import strawberry

from api.errors import api_error
from engine.errors import ValidationFailed


@strawberry.type(name="LifecycleOverview", description="Retention and repurchase of a period [from, to) against the period of equal length just before it.")
class LifecycleOverviewType:
    previous_from: datetime = strawberry.field(description="Start of the period before: from − (to − from).")
    buyers: int = strawberry.field(description="Customers with a purchase in [from, to).")
    repeat_buyers: int = strawberry.field(description="Of them, customers with two or more purchases in it.")
    previous_buyers: int = strawberry.field(description="Customers with a purchase in the period before.")
    retained: int = strawberry.field(description="Of those, the ones who bought in [from, to) as well.")
    retention_rate: Optional[float] = strawberry.field(description="retained / previousBuyers, 0–1; null without previous buyers.")
    churn_rate: Optional[float] = strawberry.field(description="1 − retentionRate; null without previous buyers.")
    repurchase_rate: Optional[float] = strawberry.field(description="repeatBuyers / buyers (复购率), 0–1; null without buyers.")


@strawberry.type(description="The lifecycle module's overview query.")
class LifecycleOverviewQuery:
    @strawberry.field(description="Retention (of the previous period's buyers, the share who bought again in [from, to)), churn and "
                                  "repurchase rates over any period; alias it for the period compared with.")
    async def lifecycle_overview(
        self, info: strawberry.Info,
        from_: Annotated[datetime, strawberry.argument(name="from", description="The period's start (inclusive), with a UTC offset.")],
        to: Annotated[datetime, strawberry.argument(description="The period's end (exclusive); at most 3,660 days after from.")],
        store: Annotated[Optional[str], strawberry.argument(description="Only purchases made in this store.")] = None,
    ) -> LifecycleOverviewType:
        from plugins.lifecycle.overview import period_rates

        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id

        def work(session):
            try:
                return period_rates(gx.context(session, tenant_id), from_, to, store)
            except ValidationFailed as error:
                raise api_error(str(error), "INVALID") from None

        r = await ctx.read(work)
        return LifecycleOverviewType(
            previous_from=r.base_start, buyers=r.buyers, repeat_buyers=r.repeat_buyers, previous_buyers=r.previous_buyers,
            retained=r.retained, retention_rate=r.retention_rate, churn_rate=r.churn_rate, repurchase_rate=r.repurchase_rate)
