"""The webhooks module's periodic job. Delivery itself is not a job: it runs
continuously in ``guanxi webhooks deliver`` or ``guanxi worker --webhooks``
(plugins/webhooks/delivery.py), outside any tenant transaction."""

from __future__ import annotations

from engine.jobs import Job
from plugins.webhooks.service import prune

JOBS = [Job(name="webhooks.prune", module="webhooks", every_minutes=24 * 60, run=prune)]
