"""The campaigns module's periodic job: the day's birthday and holiday messages."""

from __future__ import annotations

from engine.jobs import Job


def daily_triggers(ctx):
    from plugins.campaigns.triggers import run_daily_triggers

    return run_daily_triggers(ctx)


JOBS = [Job(name="campaigns.daily_triggers", module="campaigns", every_minutes=60, run=daily_triggers)]
