"""Where deliveries run: threads of this process, or Celery workers.

Either way the work is `delivery.record` then `delivery.attempt` until it says
stop; a runner only decides where, and how the wait between attempts is spent.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from celery import Celery
from flask import Flask
from kombu.exceptions import OperationalError as BrokerError

from ..observability import metrics, request_id
from . import delivery
from .delivery import Message
from .tasks import DELIVER_TASK

logger = logging.getLogger(__name__)


class ThreadDispatcher:
    """Attempts run on a few threads of this process; between attempts a
    delivery holds no thread, only a place in the retry queue."""

    def __init__(self, app: Flask, threads: int) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="webhook")
        self.retries = RetryQueue()

    def submit(self, message: Message) -> None:
        self.pool.submit(self._run, message.request_id, message, None)

    def _run(self, rid: str | None, message: Message | None, delivery_id: int | None) -> None:
        try:
            with self.app.app_context(), request_id.carried(rid):
                if delivery_id is None:
                    delivery_id = delivery.record(message)
                delay = delivery.attempt(delivery_id)
        except Exception:
            logger.exception("webhook delivery %s could not be attempted", delivery_id)
            return
        if delay is not None:
            self.retries.later(delay, lambda: self.pool.submit(self._run, rid, None, delivery_id))

    def shutdown(self) -> None:
        """Drop the retries waiting, finish the attempts in hand."""
        self.retries.close()
        self.pool.shutdown(wait=True, cancel_futures=True)


class RetryQueue:
    """Calls each function when its time comes, from one thread that runs
    only while something waits (a forked child starts its own)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def later(self, delay: float, call: Callable[[], object]) -> None:
        with self._ready:
            if self._closed:
                return
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), call))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="webhook-retry", daemon=True
                )
                self._thread.start()
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._due.clear()
            self._ready.notify()

    def _loop(self) -> None:
        while True:
            with self._ready:
                if not self._due:
                    self._thread = None
                    return
                due, _, call = self._due[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._ready.wait(wait)
                    continue
                heapq.heappop(self._due)
            try:
                call()
            except RuntimeError:  # the pool was shut down meanwhile
                return


class CeleryDispatcher:
    """Deliveries are Celery tasks (CELERY_BROKER_URL); a retry is the task
    sent again with a countdown."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def submit(self, message: Message) -> None:
        try:
            self.celery.send_task(DELIVER_TASK, kwargs={"message": message.as_dict()})
        except BrokerError as error:
            metrics.webhook_delivery("failed")
            logger.error(
                "webhook %s to %s not sent: the queue is unavailable: %s",
                message.event_type,
                message.url,
                error,
                extra={"webhook_id": message.webhook_id, "url": message.url},
            )

    def shutdown(self) -> None:
        """Nothing runs here; the workers are other processes."""
