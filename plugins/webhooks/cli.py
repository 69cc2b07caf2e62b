"""``guanxi webhooks ...``: manage endpoints, inspect and replay deliveries, run the delivery loop."""

from __future__ import annotations

from typing import Optional

import typer

from engine.cli_support import console, fail, json_option, new_app, open_engine, print_json, say, table, tenant_option
from engine.errors import GuanxiError

webhooks_app = new_app("Webhooks: endpoints, deliveries, replay, and the delivery loop.")

ENDPOINT_ARG = typer.Argument(..., metavar="ENDPOINT", help="The endpoint's number (see `guanxi webhooks list`)")


def _require_module(ctx) -> None:
    if "webhooks" not in ctx.enabled_modules:
        raise GuanxiError("the webhooks module is not enabled for this tenant", field="tenant")


def _endpoint_dict(endpoint) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "event_types": list(endpoint.event_types or []),
            "enabled": endpoint.enabled, "description": endpoint.description,
            "previous_secret_expires_at": endpoint.previous_secret_expires_at, "created_at": endpoint.created_at}


@webhooks_app.command("add")
def add(
    url: str = typer.Argument(..., metavar="URL", help="http(s) URL of the receiver"),
    tenant: str = tenant_option(),
    event: Optional[list[str]] = typer.Option(None, "--event", metavar="TYPE", help="An event type or family (customer.*); repeatable; default every type"),
    description: Optional[str] = typer.Option(None, "--description", metavar="WORDS", help="What it is for"),
) -> None:
    """Add an endpoint. Its signing secret alone goes to stdout, this once: store it now."""
    from plugins.webhooks.endpoints import create_endpoint

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            new = create_endpoint(ctx, gx.settings, url, event or [], description)
            endpoint_id = new.endpoint.id
    except GuanxiError as error:
        fail(error)
    say(f"endpoint {endpoint_id}: {url}")
    console.print(new.secret, highlight=False)


@webhooks_app.command("list")
def list_(tenant: str = tenant_option(), as_json: bool = json_option()) -> None:
    """The tenant's endpoints with their deliveries by status."""
    from plugins.webhooks.endpoints import delivery_counts, list_endpoints

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            rows = [dict(_endpoint_dict(e), deliveries=delivery_counts(ctx.session, ctx.tenant_id, e.id))
                    for e in list_endpoints(ctx.session, ctx.tenant_id)]
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(rows)
        return
    out = table("id", "url", "events", "enabled", "pending", "delivered", "dead")
    for r in rows:
        d = r["deliveries"]
        out.add_row(str(r["id"]), r["url"], ",".join(r["event_types"]) or "*", "yes" if r["enabled"] else "no",
                    str(d["pending"] + d["delivering"]), str(d["delivered"]), str(d["dead"]))
    console.print(out)


def _update(tenant: str, endpoint_id: int, changes: dict) -> None:
    from plugins.webhooks.endpoints import update_endpoint

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            update_endpoint(ctx, gx.settings, endpoint_id, changes)
    except GuanxiError as error:
        fail(error)
    say(f"endpoint {endpoint_id}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))


@webhooks_app.command("disable")
def disable(endpoint_id: int = ENDPOINT_ARG, tenant: str = tenant_option()) -> None:
    """Stop sending to an endpoint; its pending deliveries wait."""
    _update(tenant, endpoint_id, {"enabled": False})


@webhooks_app.command("enable")
def enable(endpoint_id: int = ENDPOINT_ARG, tenant: str = tenant_option()) -> None:
    """Send to an endpoint again."""
    _update(tenant, endpoint_id, {"enabled": True})


@webhooks_app.command("rotate")
def rotate(
    endpoint_id: int = ENDPOINT_ARG, tenant: str = tenant_option(),
    overlap_hours: Optional[float] = typer.Option(None, "--overlap-hours", metavar="HOURS",
                                                  help="How long the old secret also signs (default: the module setting)"),
) -> None:
    """Replace an endpoint's secret; the new one alone goes to stdout, this once."""
    from plugins.webhooks.endpoints import rotate_secret

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            new = rotate_secret(ctx, gx.settings, endpoint_id, overlap_hours)
    except GuanxiError as error:
        fail(error)
    console.print(new.secret, highlight=False)


@webhooks_app.command("delete")
def delete(endpoint_id: int = ENDPOINT_ARG, tenant: str = tenant_option()) -> None:
    """Delete an endpoint and its deliveries."""
    from plugins.webhooks.endpoints import delete_endpoint

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            delete_endpoint(ctx, endpoint_id)
    except GuanxiError as error:
        fail(error)
    say(f"endpoint {endpoint_id} deleted")


@webhooks_app.command("deliveries")
def deliveries(
    tenant: str = tenant_option(), as_json: bool = json_option(),
    endpoint_id: Optional[int] = typer.Option(None, "--endpoint", metavar="ENDPOINT", help="Only this endpoint's"),
    status: Optional[str] = typer.Option(None, "--status", metavar="STATUS", help="pending, delivering, delivered or dead"),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, max=10000, help="At most this many, newest first"),
) -> None:
    """Deliveries, newest first."""
    from plugins.webhooks.endpoints import deliveries_query
    from plugins.webhooks.models import WebhookDelivery

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            rows = ctx.session.execute(deliveries_query(ctx.tenant_id, endpoint_id, status)
                                       .order_by(WebhookDelivery.id.desc()).limit(limit)).all()
            found = [{"id": d.id, "endpoint": d.endpoint_id, "event_id": d.event_id, "type": t, "status": d.status,
                      "attempts": d.attempts, "last_status_code": d.last_status_code, "last_error": d.last_error,
                      "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at} for d, t in rows]
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(found)
        return
    out = table("id", "endpoint", "type", "status", "attempts", "last error")
    for r in found:
        out.add_row(str(r["id"]), str(r["endpoint"]), r["type"], r["status"], str(r["attempts"]), r["last_error"] or "")
    console.print(out)


@webhooks_app.command("replay")
def replay(
    endpoint_id: int = ENDPOINT_ARG, tenant: str = tenant_option(),
    delivery_id: Optional[int] = typer.Option(None, "--delivery", metavar="DELIVERY", help="Only this dead delivery (default: all)"),
) -> None:
    """Make an endpoint's dead deliveries (or one) pending again, with fresh attempts."""
    from plugins.webhooks.endpoints import replay as replay_dead

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            count = replay_dead(ctx, endpoint_id, delivery_id)
    except GuanxiError as error:
        fail(error)
    console.print(f"{count} replayed")


@webhooks_app.command("deliver")
def deliver(
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit"),
    concurrency: int = typer.Option(32, "--concurrency", metavar="N", min=1, max=512, help="Requests in flight at once"),
    batch: int = typer.Option(200, "--batch", metavar="N", min=1, max=5000, help="Deliveries claimed per round"),
    poll_seconds: float = typer.Option(1.0, "--poll-seconds", metavar="SECONDS", min=0.05, help="Wait when nothing is due"),
    lease_seconds: float = typer.Option(120.0, "--lease-seconds", metavar="SECONDS", min=1,
                                        help="How long a crashed worker's claims stay taken (at least twice the tenant's timeout)"),
    tenant: Optional[list[str]] = typer.Option(None, "--tenant", metavar="SLUG", help="Only these tenants (repeatable); default all"),
    as_json: bool = json_option(),
) -> None:
    """Send due webhook deliveries of every tenant, until stopped (SIGTERM/SIGINT finish the round).
    Run as many as you like: no delivery is sent by two at once."""
    import signal
    import threading

    from plugins.webhooks.delivery import Deliverer

    gx = open_engine()
    try:
        tenant_ids = None if not tenant else [gx.tenant_id(t) for t in tenant]
    except GuanxiError as error:
        fail(error)
    deliverer = Deliverer(gx, batch_size=batch, in_flight=concurrency, lease_seconds=lease_seconds, tenants=tenant_ids)
    if once:
        report = deliverer.run_once()
    else:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        say(f"{deliverer.worker_id}: delivering webhooks, {concurrency} in flight")
        report = deliverer.run_forever(stop, poll_seconds)
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(", ".join(f"{k} {v}" for k, v in report.as_dict().items()))
