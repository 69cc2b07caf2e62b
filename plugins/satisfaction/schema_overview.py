"""``satisfactionOverview``: satisfaction over a period across every survey,
for the console's home page (plugins/satisfaction/overview.py; definitions in
docs/api.md, "The overview"). Mounted by schema.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import strawberry

from api.errors import api_error
from engine.errors import ValidationFailed


@strawberry.type(name="SatisfactionOverview", description="Satisfaction answers given in a period, every survey together.")
class SatisfactionOverviewType:
    responses: int = strawberry.field(description="Questionnaires answered in the period.")
    index: Optional[float] = strawberry.field(
        description="The satisfaction index, 0–100: the mean of the respondents' indices, each from their survey's own "
                    "index model and the dimension_weights setting; null without scale answers.")
    index_respondents: int = strawberry.field(description="Respondents with an index (at least one scale answer).")
    overall_answers: int = strawberry.field(description="Answers to the overall satisfaction question (1–5).")
    overall_mean: Optional[float] = strawberry.field(description="Their mean, 1–5; null without answers.")
    overall_satisfied: Optional[float] = strawberry.field(
        description="Their share in the top boxes (satisfied_top_box setting: 4 or 5 by default), 0–1; null without answers.")
    nps_answers: int = strawberry.field(description="Answers to the 0–10 recommend question.")
    promoters: int = strawberry.field(description="Answers of 9 or 10.")
    passives: int = strawberry.field(description="Answers of 7 or 8.")
    detractors: int = strawberry.field(description="Answers of 0 to 6.")
    nps: Optional[float] = strawberry.field(description="Net Promoter Score: % promoters − % detractors, −100 to 100; null without answers.")


@strawberry.type(description="The satisfaction module's overview query.")
class SatisfactionOverviewQuery:
    @strawberry.field(description="Index, overall satisfaction and NPS of the answers given in [from, to), every survey together "
                                  "(alias it for the previous period to compare).")
    async def satisfaction_overview(
        self, info: strawberry.Info,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Answers given at or after this time.")],
        to: Annotated[datetime, strawberry.argument(description="Answers given before this time (at most 3,660 days after from).")],
        store: Annotated[Optional[str], strawberry.argument(description="Only answers given for this store.")] = None,
    ) -> SatisfactionOverviewType:
        from plugins.satisfaction.overview import satisfaction_overview

        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id

        def work(session):
            try:
                return satisfaction_overview(gx.context(session, tenant_id), from_, to, store)
            except ValidationFailed as error:
                raise api_error(str(error), "INVALID") from None

        o = await ctx.read(work)
        return SatisfactionOverviewType(
            responses=o.responses, index=o.index, index_respondents=o.index_respondents, overall_answers=o.overall_answers,
            overall_mean=o.overall_mean, overall_satisfied=o.overall_satisfied, nps_answers=o.nps_answers,
            promoters=o.promoters, passives=o.passives, detractors=o.detractors, nps=o.nps)
