"""The lifecycle module's periodic job: re-stage every customer.

Stages move with time alone (a silent customer passes into at risk, lapsed,
churned), so they are recomputed on a schedule, not only on purchases. The
run is idempotent: twice at the same moment, the second changes nothing.
"""

from __future__ import annotations

from engine.jobs import Job

STAGE_JOB_MINUTES = 24 * 60  # stage thresholds are whole days; tenants may run it more often (guanxi jobs schedule)


def _update_stages(ctx) -> str:
    from plugins.lifecycle.history import run_stages

    return str(run_stages(ctx))


JOBS = [Job(name="lifecycle.update_stages", module="lifecycle", every_minutes=STAGE_JOB_MINUTES, run=_update_stages)]
