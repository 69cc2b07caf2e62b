"""The webhooks module's hook implementations: domain events into the outbox."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.webhooks.settings import WebhooksSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="webhooks",
        title_zh="事件推送",
        title_en="Webhooks",
        description="Domain events to the tenant's own systems: a transactional outbox and signed webhooks "
                    "(Standard Webhooks), retried with backoff, dead letters replayable.",
        settings_model=WebhooksSettings,
    )


@hookimpl
def guanxi_models():
    from plugins.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

    return [WebhookEndpoint, WebhookEvent, WebhookDelivery]


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")


@hookimpl
def guanxi_domain_events(ctx, events):
    from plugins.webhooks.outbox import write_events

    write_events(ctx, events)


@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    from plugins.webhooks.outbox import interaction_events, write_events

    write_events(ctx, interaction_events(interactions))


@hookimpl(optionalhook=True)
def guanxi_loyalty_tier_changed(ctx, changes):
    from plugins.webhooks.outbox import tier_events, write_events

    write_events(ctx, tier_events(changes))


@hookimpl(optionalhook=True)
def guanxi_complaint_status_changed(ctx, change):
    from plugins.webhooks.outbox import complaint_event, write_events

    write_events(ctx, [complaint_event(change)])


@hookimpl(optionalhook=True)
def guanxi_satisfaction_invited(ctx, links):
    from plugins.webhooks.outbox import invitation_events, write_events

    write_events(ctx, invitation_events(links))


@hookimpl
def guanxi_customer_erased(ctx, customer_id):
    """Events already stored about the person lose their data (deliveries not yet
    sent then carry ``{}``); the ``customer.erased`` event is written after this."""
    from plugins.webhooks.service import erase_customer_events

    erase_customer_events(ctx, customer_id)


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """The merged customer's events and deliveries are the kept customer's: one order per person."""
    from engine.services.merge import move_customer_rows
    from plugins.webhooks.models import WebhookDelivery, WebhookEvent

    move_customer_rows(ctx, WebhookEvent.__table__, kept_id, merged_id)
    move_customer_rows(ctx, WebhookDelivery.__table__, kept_id, merged_id)


@hookimpl
def guanxi_jobs():
    from plugins.webhooks.jobs import JOBS

    return JOBS


@hookimpl
def guanxi_cli_commands():
    from plugins.webhooks.cli import webhooks_app

    return [("webhooks", webhooks_app)]


@hookimpl
def guanxi_graphql():
    from plugins.webhooks.schema import WebhooksMutation, WebhooksQuery, load_endpoint

    return {"query": [WebhooksQuery], "mutation": [WebhooksMutation], "nodes": {"WebhookEndpoint": load_endpoint}}


@hookimpl
def guanxi_demo_data(ctx, seed):
    """An example endpoint for the demo's campaign messages, disabled: the demo has no
    provider to send to. Point it at one (updateWebhookEndpoint), rotate its secret to
    read one, enable it, and run `guanxi webhooks deliver`."""
    from plugins.webhooks.endpoints import create_endpoint

    settings = _demo_settings()
    create_endpoint(ctx, settings, "https://sms-gateway.example.com/guanxi", ["campaign.*"],
                    "Example: the SMS gateway of the demo shop (disabled; see docs/webhooks.md)", enabled=False)
    return "1 example webhook endpoint (disabled)"


def _demo_settings():
    from engine.config import Settings

    return Settings.from_env()
