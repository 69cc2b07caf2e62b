"""``POST /campaigns/receipts``: the tenant's message provider reports what
happened to messages (delivered, opened, redeemed, failed).

Authenticated with one of the tenant's API keys (``Authorization: Bearer``,
agent role or higher: give the provider integration a key of its own, and
revoke it to cut it off). The body names each message by the ``message_id``
of its ``campaign.message`` event:

    {"receipts": [{"messageId": "3f2a...", "status": "OPENED", "at": "2026-05-01T08:00:00Z"}]}

The first report of each status is kept (providers retry: reporting again
changes nothing); OPENED and REDEEMED imply DELIVERED. A REDEEMED message
of a campaign whose offer is a points bonus credits the points once
(loyalty's ``adjust_points`` with the message as idempotency key).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth import bearer_token, load_principal
from api.context import RANK, Principal
from api.endpoint import error_response
from api.errors import FORBIDDEN, UNAUTHENTICATED
from api.threads import run_db
from engine.enums import Role
from engine.errors import FieldError, GuanxiError, ValidationFailed
from engine.input_bounds import bounded_time
from engine.types import utcnow
from plugins.campaigns.models import Campaign, CampaignMessage

MAX_RECEIPTS = 1000
MAX_BODY = 512 * 1024
STATUSES = {"DELIVERED": "delivered_at", "OPENED": "opened_at", "REDEEMED": "redeemed_at", "FAILED": "failed_at"}


def _invalid(error: GuanxiError, status: int = 400) -> JSONResponse:
    return JSONResponse({"errors": [{"message": str(e), "extensions": {"code": e.code, "field": e.field}}
                                    for e in error.errors]}, status_code=status)


def parse_receipts(body) -> list[tuple[str, str, datetime]]:
    if not isinstance(body, dict) or not isinstance(body.get("receipts"), list):
        raise ValidationFailed([FieldError("receipts", 'send {"receipts": [{"messageId": ..., "status": ...}]}')])
    items = body["receipts"]
    if len(items) > MAX_RECEIPTS:
        raise ValidationFailed([FieldError("receipts", f"at most {MAX_RECEIPTS} receipts per request", "TOO_MANY_ITEMS")])
    out, problems, now = [], [], utcnow()
    for index, item in enumerate(items):
        field = f"receipts[{index}]"
        if not isinstance(item, dict):
            problems.append(FieldError(field, "must be an object"))
            continue
        message_id, status = item.get("messageId"), str(item.get("status") or "").strip().upper()
        if not isinstance(message_id, str) or not 0 < len(message_id) <= 32:
            problems.append(FieldError(f"{field}.messageId", "the message_id of a campaign.message event"))
        if status not in STATUSES:
            problems.append(FieldError(f"{field}.status", f"one of {', '.join(STATUSES)}"))
        at = now
        if item.get("at") is not None:
            try:
                at = bounded_time(f"{field}.at", datetime.fromisoformat(str(item["at"]).replace("Z", "+00:00")))
            except ValueError:
                problems.append(FieldError(f"{field}.at", "an ISO 8601 time with an offset"))
            except ValidationFailed as error:
                problems += error.errors
        if not problems:
            out.append((message_id, status, at))
    if problems:
        raise ValidationFailed(problems)
    return out


def _bonus(ctx, message: CampaignMessage) -> str | None:
    """Credit a points-bonus offer for a redeemed campaign message; the failure, if any, as text."""
    if message.campaign_id is None or "loyalty" not in ctx.enabled_modules:
        return None
    campaign = ctx.session.get(Campaign, message.campaign_id)
    offer = (campaign.offer or {}) if campaign is not None else {}
    if offer.get("kind") != "POINTS_BONUS":
        return None
    from plugins.loyalty.service import adjust_points

    try:
        with ctx.session.begin_nested():
            adjust_points(ctx, message.customer_id, offer["points"], f"campaign {campaign.id} bonus",
                          idempotency_key=f"campaign-message:{message.event_id}")
    except GuanxiError as error:  # not a member, or suspended: the receipt still counts
        return str(error)
    return None


def apply_receipts(ctx, receipts: list[tuple[str, str, datetime]]) -> dict:
    ids = sorted({r[0] for r in receipts})
    rows = {m.event_id: m for m in ctx.session.execute(
        sa.select(CampaignMessage).where(CampaignMessage.tenant_id == ctx.tenant_id, CampaignMessage.event_id.in_(ids))
        .with_for_update()).scalars()}
    updated, unknown, offers = 0, [], []
    for message_id, status, at in receipts:
        message = rows.get(message_id)
        if message is None:
            unknown.append(message_id)
            continue
        columns = [STATUSES[status]] + (["delivered_at"] if status in ("OPENED", "REDEEMED") else [])
        changed = False
        for column in columns:
            if getattr(message, column) is None:
                setattr(message, column, at)
                changed = True
        if changed:
            updated += 1
            ctx.session.add(message)
        if status == "REDEEMED" and changed:
            problem = _bonus(ctx, message)
            if problem:
                offers.append({"messageId": message_id, "message": problem})
    ctx.session.flush()
    return {"updated": updated, "unknown": sorted(set(unknown)), "offerErrors": offers}


def receipt_routes(gx):
    async def receipts(request: Request):
        secret = bearer_token(request.headers.get("authorization"))
        principal: Principal | None = await run_db(gx, load_principal, gx, secret) if secret else None
        if principal is None:
            message = "missing API key: send Authorization: Bearer <key>" if not secret else "invalid or revoked API key"
            return error_response(message, UNAUTHENTICATED, 401, {"WWW-Authenticate": "Bearer"})
        if principal.tenant is None or "campaigns" not in principal.modules:
            return error_response("receipts are for a tenant with the campaigns module enabled", FORBIDDEN, 403)
        if RANK.get(principal.role, -1) < RANK[Role.AGENT]:
            return error_response("reporting receipts needs the agent role or higher", FORBIDDEN, 403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return _invalid(ValidationFailed([FieldError("receipts", "the body is too large", "PAYLOAD_TOO_LARGE")]), 413)
        try:
            import json

            parsed = parse_receipts(json.loads(body or b"null"))
        except (ValueError, RecursionError):
            return _invalid(ValidationFailed([FieldError("receipts", "the body is not JSON")]))
        except ValidationFailed as error:
            return _invalid(error)

        def work():
            with gx.tenant(principal.tenant, actor=principal.actor) as ctx:
                return apply_receipts(ctx, parsed)

        return JSONResponse(await run_db(gx, work))

    return [Route("/campaigns/receipts", receipts, methods=["POST"])]
