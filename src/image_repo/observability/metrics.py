"""Prometheus metrics (`prometheus_client`), right across the worker processes of a
pre-fork server.

Each process counts in its own memory-mapped files under PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode) and `/metrics` sums them all, whichever
worker answers. The variable must be set before the package is first imported,
and the folder emptied before the workers start: gunicorn.conf.py does both
(the second with `empty_multiprocess_dir`). Without it (one process:
`flask run`, the tests) the counts live in this process.

Recording costs a few microseconds; the hooks below are what the rest of the
service calls.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import InterfaceError, OperationalError

from ..imaging import ImageRejected
from ..models import GenerationJob, db, utcnow

if TYPE_CHECKING:
    from ..ingest import IngestResult

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
JOB_STATES = ("queued", "running", "succeeded", "failed")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
WORK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

REQUEST_SECONDS = Histogram(
    "image_repo_http_request_duration_seconds",
    "Requests by endpoint, method and status, and how long they took (its _count counts them).",
    ["endpoint", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
UPLOADS = Counter(
    "image_repo_uploads",
    "Pictures offered for storage (uploads, imports, generated), by outcome: stored, "
    "duplicate, refused (with the reason) or failed (with the error).",
    ["source", "outcome", "reason"],
)
UPLOAD_BYTES = Counter(
    "image_repo_upload_bytes", "Bytes of the pictures stored or found duplicate.", ["outcome"]
)
INGEST_SECONDS = Histogram(
    "image_repo_ingest_duration_seconds",
    "Time to check, hash and store one picture.",
    ["source"],
    buckets=WORK_BUCKETS,
)
THUMBNAIL_CACHE = Counter(
    "image_repo_thumbnail_cache",
    "Thumbnail requests found made (hit) or made now (miss).",
    ["result"],
)
THUMBNAIL_SECONDS = Histogram(
    "image_repo_thumbnail_duration_seconds",
    "Time to make a thumbnail on its first request.",
    buckets=WORK_BUCKETS,
)
JOBS_FINISHED = Counter(
    "image_repo_jobs_finished",
    "Generation jobs that ended, by backend, status and error code.",
    ["backend", "status", "error"],
)
JOB_QUEUE_WAIT = Histogram(
    "image_repo_job_queue_wait_seconds",
    "Time a generation job waited before it started.",
    buckets=WORK_BUCKETS,
)
GENERATION_SECONDS = Histogram(
    "image_repo_generation_duration_seconds",
    "Time a generation job ran (generate and store), by backend and status.",
    ["backend", "status"],
    buckets=WORK_BUCKETS,
)
STORAGE_ERRORS = Counter(
    "image_repo_storage_errors", "Writes the storage refused (full, read-only...).", ["where"]
)
DATABASE_ERRORS = Counter(
    "image_repo_database_errors", "Database operations that failed to reach it.", ["error"]
)
WEBHOOK_DELIVERIES = Counter(
    "image_repo_webhook_deliveries",
    "Webhook attempts by outcome: delivered, retry (failed, tried again later), failed (given up).",
    ["outcome"],
)


# Hooks for the rest of the service.

_request_series: dict[tuple[str, str, int], Histogram] = {}


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    key = (endpoint or "unmatched", method if method in METHODS else "other", status)
    series = _request_series.get(key)
    if series is None:  # `labels` is half the cost: look each series up once
        series = _request_series.setdefault(key, REQUEST_SECONDS.labels(*key))
    series.observe(seconds)


def observed_ingest(ingest: Callable[..., IngestResult]) -> Callable[..., IngestResult]:
    """Counts each picture `ingest` is given by outcome, its bytes, and the time taken."""

    @wraps(ingest)
    def observed(stream: Any, *args: Any, source: str = "upload", **kwargs: Any) -> IngestResult:
        started = perf_counter()
        try:
            result = ingest(stream, *args, source=source, **kwargs)
        except ImageRejected as error:
            UPLOADS.labels(source, "refused", _snake_case(type(error).__name__)).inc()
            raise
        except Exception as error:
            UPLOADS.labels(source, "failed", type(error).__name__).inc()
            raise
        finally:
            INGEST_SECONDS.labels(source).observe(perf_counter() - started)
        outcome = "stored" if result.created else "duplicate"
        UPLOADS.labels(source, outcome, "").inc()
        UPLOAD_BYTES.labels(outcome).inc(_bytes_read(stream))
        return result

    return observed


def thumbnail_cache(hit: bool) -> None:
    THUMBNAIL_CACHE.labels("hit" if hit else "miss").inc()


def storage_error(where: str) -> None:
    STORAGE_ERRORS.labels(where).inc()


def job_finished(job: GenerationJob) -> None:
    JOBS_FINISHED.labels(job.backend, job.status, job.error_code or "").inc()
    if job.error_code == "storage_error":
        storage_error("job")
    if job.started_at is not None:
        JOB_QUEUE_WAIT.observe((job.started_at - job.created_at).total_seconds())
        if job.finished_at is not None:
            GENERATION_SECONDS.labels(job.backend, job.status).observe(
                (job.finished_at - job.started_at).total_seconds()
            )


def webhook_delivery(outcome: str) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()


def watch_database(engine: Engine) -> None:
    """Count the errors of every statement and connection of `engine`."""
    event.listen(engine, "handle_error", _database_error)


def _database_error(context: ExceptionContext) -> None:
    error = context.sqlalchemy_exception
    if isinstance(error, OperationalError | InterfaceError):
        DATABASE_ERRORS.labels(type(error).__name__).inc()


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _bytes_read(stream: Any) -> int:
    try:
        return stream.tell()
    except (AttributeError, OSError, ValueError):
        return 0


# The scrape.


class JobStates(Collector):
    """Generation jobs in each state, and how long the oldest queued one has
    waited, from the database at scrape time: right whatever process or
    Celery worker runs them."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        states = GaugeMetricFamily("image_repo_jobs", "Generation jobs by state.", labels=["state"])
        counts = dict(
            db.session.execute(
                select(GenerationJob.status, func.count()).group_by(GenerationJob.status)
            ).all()
        )
        for state in JOB_STATES:
            states.add_metric([state], counts.get(state, 0))
        yield states
        oldest = db.session.scalar(
            select(func.min(GenerationJob.created_at)).where(GenerationJob.status == "queued")
        )
        waited = (utcnow() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "image_repo_oldest_queued_job_seconds",
            "How long the oldest job still queued has waited (0: none is).",
            value=waited,
        )


_database_gauges = CollectorRegistry(auto_describe=False)
_database_gauges.register(JobStates())


def exposition() -> bytes:
    """Every metric in the text format: all processes' counts, and the database's."""
    folder = os.environ.get(MULTIPROC_VARIABLE)
    if folder:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, folder)
    else:
        registry = REGISTRY
    try:
        database = generate_latest(_database_gauges)
    except (OperationalError, InterfaceError):
        db.session.rollback()
        database = b""  # the database is down: the rest still tells the story
    return generate_latest(registry) + database


# Server start (gunicorn.conf.py; another pre-fork server does the same in its
# main process before it starts workers).


def empty_multiprocess_dir() -> None:
    """Start from zero: the files of a previous server's processes would be summed in."""
    for path in Path(os.environ[MULTIPROC_VARIABLE]).glob("*.db"):
        path.unlink(missing_ok=True)
