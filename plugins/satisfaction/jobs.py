"""The satisfaction module's periodic jobs (each safe to run twice)."""

from __future__ import annotations

from engine.jobs import Job


def _wave(ctx):
    from plugins.satisfaction.invitations import send_wave_if_due

    return send_wave_if_due(ctx)


JOBS = [
    # Daily: a wave goes out when wave_every_days have passed since the last one.
    Job(name="satisfaction.wave", module="satisfaction", every_minutes=24 * 60, run=_wave),
]
