"""The Celery task that delivers a webhook (with CELERY_BROKER_URL)."""

from __future__ import annotations

from celery import Task, shared_task

from ..observability.request_id import carried
from . import delivery
from .delivery import Message

DELIVER_TASK = "image_repo.deliver_webhook"


@shared_task(name=DELIVER_TASK, bind=True, ignore_result=True, max_retries=None)
def deliver(
    task: Task,
    message: dict | None = None,
    delivery_id: int | None = None,
    request_id: str | None = None,
) -> None:
    """The first run records the delivery; each run makes one attempt, and a
    failed one sends the task again for later (no worker waits meanwhile)."""
    if message is not None:
        request_id = message["request_id"]
    with carried(request_id):
        if delivery_id is None:
            delivery_id = delivery.record(Message(**message))
        delay = delivery.attempt(delivery_id)
    if delay is not None:
        raise task.retry(
            kwargs={"delivery_id": delivery_id, "request_id": request_id}, countdown=delay
        )
