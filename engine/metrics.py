"""The engine's Prometheus metrics: job runs and scoring runs.

They live in ``REGISTRY`` with the API's (api/metrics.py), which serves
them at ``/metrics``. Under several API workers (PROMETHEUS_MULTIPROC_DIR
set before the process starts) prometheus-client keeps every value in a
per-process file and a scrape adds them up. Recording a value costs about a
microsecond; nothing here touches the database.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Jobs run from a second to many minutes (a large tenant's scoring).
_JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

JOB_RUNS = Counter("guanxi_job_runs", "Job runs ended, by job name and outcome (SUCCEEDED, FAILED, LOST, SKIPPED)",
                   ["job", "outcome"], registry=REGISTRY)
JOB_DURATION = Histogram("guanxi_job_duration_seconds", "Wall time of job runs, by job name and outcome",
                         ["job", "outcome"], buckets=_JOB_BUCKETS, registry=REGISTRY)
SCORING_DURATION = Histogram("guanxi_scoring_duration_seconds",
                             "Wall time of one module's scoring of one tenant (the first module also reads the purchases)",
                             ["module"], buckets=_JOB_BUCKETS, registry=REGISTRY)


def job_ended(job: str, outcome: str, seconds: float) -> None:
    """A job run ended (the worker, the API's job runner, guanxi jobs run)."""
    JOB_RUNS.labels(job, outcome).inc()
    JOB_DURATION.labels(job, outcome).observe(seconds)


@contextlib.contextmanager
def scoring_timer(module: str) -> Iterator[None]:
    """Time one module's scoring (recorded whether it succeeds or fails)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        SCORING_DURATION.labels(module).observe(time.perf_counter() - started)
