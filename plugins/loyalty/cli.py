"""``guanxi loyalty ...``: the periodic jobs by hand (``expire``, ``evaluate-tiers``, with a progress bar)
and the coupon wallet (``coupons``, ``use-coupon``, ``void-coupon``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer

from engine.cli_support import (
    bad_value, console, fail, json_option, new_app, open_engine, print_json, progress_bar, table, tenant_option,
)
from engine.errors import GuanxiError, not_found

loyalty_app = new_app("Loyalty: points expiry, tier evaluation and the coupon wallet.")


def _as_of(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        bad_value("--as-of", f"{value!r} is not an ISO time (e.g. 2026-05-01T09:00:00+08:00)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


AS_OF_HELP = "ISO time (default now)"


def _run(job, tenant: str, as_of: Optional[str], label: str) -> None:
    moment = _as_of(as_of)
    gx = open_engine()
    progress = progress_bar()
    try:
        with progress:
            task = progress.add_task(label, total=4)

            def on_progress(step: str, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"{label}: {step}")

            with gx.tenant(tenant, actor="cli") as ctx:
                result = job(ctx, as_of=moment, on_progress=on_progress)
    except GuanxiError as error:
        fail(error)
    console.print(", ".join(f"{k}: {v}" for k, v in result.items()))


@loyalty_app.command("expire")
def expire(tenant: str = tenant_option(),
           as_of: Optional[str] = typer.Option(None, "--as-of", metavar="WHEN", help=AS_OF_HELP)) -> None:
    """Expire points whose lots are past their date (safe to repeat)."""
    from plugins.loyalty.jobs import expire_points

    _run(expire_points, tenant, as_of, "expire points")


@loyalty_app.command("evaluate-tiers")
def evaluate(tenant: str = tenant_option(),
             as_of: Optional[str] = typer.Option(None, "--as-of", metavar="WHEN", help=AS_OF_HELP)) -> None:
    """Re-evaluate every member's tier (upgrades; downgrades after the minimum period)."""
    from plugins.loyalty.jobs import evaluate_tiers

    _run(evaluate_tiers, tenant, as_of, "evaluate tiers")


# -- the coupon wallet -------------------------------------------------------------------


def _when(value: Optional[datetime]) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


@loyalty_app.command("coupons")
def list_coupons(tenant: str = tenant_option(),
                 customer: str = typer.Option(..., "--customer", metavar="CODE", help="The customer's code"),
                 status: Optional[list[str]] = typer.Option(None, "--status", metavar="STATUS",
                                                            help="ISSUED, USED, EXPIRED or VOIDED (repeatable)"),
                 as_of: Optional[str] = typer.Option(None, "--as-of", metavar="WHEN",
                                                     help="Statuses at this ISO time (default now)"),
                 limit: int = typer.Option(100, "--limit", metavar="N", min=1, help="How many, newest first"),
                 as_json: bool = json_option()) -> None:
    """A customer's coupons, newest first: status, reward, value, validity, use."""
    from engine.services.customers import find_by_code
    from plugins.loyalty import coupons, service

    at = _as_of(as_of)
    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli", write=False) as ctx:
            found = find_by_code(ctx.session, ctx.tenant_id, customer)
            member = None if found is None else service.get_member(ctx, found.id)
            if member is None:
                raise not_found("customer", f"no loyalty member with customer code {customer!r}")
            rows = coupons.list_coupons(ctx, member.id, status, first=limit, at=at)
            total = coupons.count_coupons(ctx, member.id, status, at=at)
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json({"total": total, "coupons": [{
            "code": c.code, "status": c.status, "reward_code": c.reward_code, "reward_name_zh": c.reward_name_zh,
            "value": c.value, "valid_from": c.valid_from, "valid_until": c.valid_until, "used_at": c.used_at,
            "order_ref": c.order_ref, "voided_at": c.voided_at, "void_reason": c.void_reason} for c in rows]})
        return
    shown = table("code", "status", "reward", "value", "valid (UTC)", "used / voided (UTC)")
    for column in shown.columns[:2]:
        column.no_wrap = True
    for c in rows:
        done = (f"{_when(c.used_at)} {c.order_ref or ''}" if c.used_at else
                f"{_when(c.voided_at)} {c.void_reason or ''}" if c.voided_at else "")
        shown.add_row(c.code, c.status, f"{c.reward_code} {c.reward_name_zh}", "" if c.value is None else str(c.value),
                      f"{_when(c.valid_from)} → {_when(c.valid_until)}", done.strip())
    console.print(shown)
    console.print(f"{total} coupon(s)" + (f", {len(rows)} shown" if len(rows) < total else ""))


@loyalty_app.command("use-coupon")
def use_coupon(code: str = typer.Argument(..., metavar="COUPON", help="The coupon code"), tenant: str = tenant_option(),
               order_ref: Optional[str] = typer.Option(None, "--order-ref", metavar="REF",
                                                       help="The order it pays for (a retry with it is replayed)")) -> None:
    """Use a coupon at checkout (refused when used, voided, expired or not valid yet)."""
    from plugins.loyalty import coupons

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            used = coupons.use_coupon(ctx, code, order_ref)
    except GuanxiError as error:
        fail(error)
    console.print(f"{used.code} {'was already used for' if used.replayed else 'used for'} "
                  f"{used.order_ref or 'no order'} at {_when(used.used_at)} UTC")


@loyalty_app.command("void-coupon")
def void_coupon(code: str = typer.Argument(..., metavar="COUPON", help="The coupon code"), tenant: str = tenant_option(),
                reason: str = typer.Option(..., "--reason", metavar="REASON", help="Why (required; kept on the coupon)")) -> None:
    """Void an unused coupon: it can no longer be used; the points are not given back."""
    from plugins.loyalty import coupons

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            voided = coupons.void_coupon(ctx, code, reason)
    except GuanxiError as error:
        fail(error)
    console.print(f"{voided.code} voided at {_when(voided.voided_at)} UTC")
