"""`GET /image/jobs/<id>?wait=N`: answer as soon as the job ends.

A job run by this process wakes its waiters at once (`notify`). A job run
elsewhere (another web process, a Celery worker) is noticed by one poll of
the database every JOB_POLL_INTERVAL for all of this process's waiters
together, not one poll per waiter, and only while someone waits.
"""

from __future__ import annotations

import threading

from flask import Flask

from ..models import db
from . import jobs
from .background import KeyedLoop


class JobWatcher(KeyedLoop):
    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(app, interval, "job-watcher")
        self._events: dict[str, threading.Event] = {}

    def wait(self, job_id: str, timeout: float) -> None:
        """Return when the job has ended (or been abandoned), or after `timeout` seconds.

        Ends the caller's transaction, before reading (a MySQL snapshot would
        hide the job's end) and before waiting: a waiter holds no pooled
        connection, for the pool is far smaller than the waiters a worker
        takes (web_worker.WAIT_THREADS), and the job itself needs one to end.
        """
        db.session.commit()
        with self._lock:
            event = self._events.setdefault(job_id, threading.Event())
        self.hold(job_id)
        try:
            # It may have ended between the caller's read and `hold`.
            ended = jobs.ended_among([job_id])
            db.session.commit()
            if not ended:
                event.wait(timeout)
        finally:
            self.release(job_id)
            with self._lock:
                if job_id not in self._keys:
                    self._events.pop(job_id, None)

    def notify(self, job_id: str) -> None:
        with self._lock:
            event = self._events.get(job_id)
        if event is not None:
            event.set()

    def tick(self, keys: list[str]) -> None:
        for job_id in jobs.ended_among(keys):
            self.notify(job_id)
