"""Where jobs run: a thread pool in this process, or Celery workers.

Either way the work is `jobs.run_job(job_id)`; a runner only decides where
and when it is called.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from celery import Celery
from flask import Flask
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import update

from ..models import GenerationJob, db, utcnow
from ..observability import request_id
from . import jobs
from .background import KeyedLoop
from .tasks import TASK_NAME

logger = logging.getLogger(__name__)


class Heartbeat(KeyedLoop):
    """Stamps `heartbeat_at` on the jobs this process holds (queued in its
    memory, or running), and fails other processes' abandoned jobs."""

    def tick(self, keys: list[str]) -> None:
        db.session.execute(
            update(GenerationJob)
            .where(GenerationJob.id.in_(keys), GenerationJob.status.in_(jobs.UNFINISHED))
            .values(heartbeat_at=utcnow())
        )
        db.session.commit()
        jobs.recover_stale()


class ThreadRunner:
    """Runs jobs on a few threads of this web process (the default).

    The queue lives in this process's memory, so queued jobs carry a
    heartbeat too: if the process dies, they are failed, not left queued.
    """

    in_memory_queue = True

    def __init__(self, app: Flask, threads: int) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="generate")

    def submit(self, job_id: str) -> None:
        heartbeat: Heartbeat = self.app.extensions["image_repo.heartbeat"]
        heartbeat.hold(job_id)
        self.pool.submit(self._run, job_id, heartbeat, request_id.current())

    def _run(self, job_id: str, heartbeat: Heartbeat, rid: str | None) -> None:
        try:
            with self.app.app_context(), request_id.carried(rid):
                jobs.run_job(job_id)
        except Exception:
            # Only the database failing gets here; a future's exception is
            # never read, so say it. The job is failed once its heartbeat stops.
            logger.exception("generation job %s could not be run", job_id)
        finally:
            heartbeat.release(job_id)

    def shutdown(self) -> None:
        """Wait for the jobs in hand (tests call this before emptying the database)."""
        self.pool.shutdown(wait=True)


class CeleryRunner:
    """Sends jobs to Celery workers through the broker (CELERY_BROKER_URL)."""

    in_memory_queue = False

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def submit(self, job_id: str) -> None:
        try:
            self.celery.send_task(
                TASK_NAME,
                args=(job_id,),
                kwargs={"request_id": request_id.current()},
                task_id=job_id,
            )
        except BrokerError as error:
            raise jobs.RunnerUnavailable(f"The job queue is unavailable: {error}") from error

    def shutdown(self) -> None:
        """Nothing runs here; the workers are other processes."""
