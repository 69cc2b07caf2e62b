"""Birthday care (生日关怀): the hooks of the ``birthdays`` module.

A daily job queues a greeting for each customer whose birthday is within
``days_ahead`` days, on the first channel of the tenant's greetings the
customer consented to; staff send it and mark it sent; a visit or purchase
soon after counts as its response. Registered through the
``guanxi.plugins`` entry point in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.jobs import Job
from engine.plugins import ModuleInfo
from guanxi_birthdays import service
from guanxi_birthdays.models import BirthdayGreeting
from guanxi_birthdays.settings import BirthdaysSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name=service.MODULE,
        title_zh="生日关怀",
        title_en="Birthday care",
        description="Birthday greetings queued on a channel each customer consented to, sent by staff.",
        settings_model=BirthdaysSettings,
        # The greeting holds the customer's name; the date is their birthday.
        personal_fields={"birthday_greetings": ("message", "birthday_on")},
    )


@hookimpl
def guanxi_models():
    return [BirthdayGreeting]


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")


@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    service.note_responses(ctx, interactions)


@hookimpl
def guanxi_jobs():
    return [Job(name="birthdays.queue_greetings", module=service.MODULE, every_minutes=24 * 60, run=service.queue_greetings)]


@hookimpl
def guanxi_customer_erased(ctx, customer_id):
    service.erase_customer(ctx, customer_id)


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """One greeting per person per birthday: the kept customer's wins."""
    from engine.services.merge import move_customer_rows

    move_customer_rows(ctx, BirthdayGreeting.__table__, kept_id, merged_id, one_per=("year",))


@hookimpl
def guanxi_customer_fields():
    from guanxi_birthdays.schema import BirthdayCustomerFields

    return [BirthdayCustomerFields]


@hookimpl
def guanxi_graphql():
    from guanxi_birthdays.schema import BirthdaysMutation, BirthdaysQuery, greeting_batch

    return {"query": [BirthdaysQuery], "mutation": [BirthdaysMutation],
            "customer_batches": {"birthdayGreeting": greeting_batch}}  # keyed by the GraphQL field name
