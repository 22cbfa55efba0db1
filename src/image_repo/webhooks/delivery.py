"""One attempt to deliver one event to one receiver, signed per Standard Webhooks.

Every attempt is recorded on the delivery's row; the caller (a runner in
dispatch.py, or the Celery task) schedules the next one.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

import requests
from flask import current_app
from standardwebhooks import Webhook

from ..models import db, utcnow
from ..observability import metrics
from .models import WebhookDelivery

logger = logging.getLogger(__name__)

USER_AGENT = "image-repo-webhooks"
MAX_ERROR = 500
# However long WEBHOOK_RETRY_FOR is, a receiver that is back is tried within this.
MAX_DELAY = 3600.0


@dataclass(frozen=True)
class Message:
    """An event for one receiver: what `emit` hands to a runner."""

    webhook_id: str
    event_type: str
    url: str
    payload: str
    request_id: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def record(message: Message) -> int:
    """Write the delivery's row (pending); its id."""
    delivery = WebhookDelivery(
        webhook_id=message.webhook_id,
        event_type=message.event_type,
        url=message.url,
        payload=message.payload,
        request_id=message.request_id,
        status="pending",
        attempts=0,
    )
    db.session.add(delivery)
    db.session.commit()
    return delivery.id


def attempt(delivery_id: int) -> float | None:
    """POST the event once; the seconds to wait before the next attempt, or
    None when the delivery is over (delivered, or given up)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return None
    webhook_id, url, payload = delivery.webhook_id, delivery.url, delivery.payload
    db.session.commit()  # no transaction stays open while the receiver takes its time
    started = utcnow()
    status_code, error = _post(webhook_id, url, payload)

    delivery = db.session.get(WebhookDelivery, delivery_id)
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.last_status_code = started, status_code
    delivery.last_error = error
    delay = None if error is None else backoff(delivery.attempts)
    give_up_at = delivery.created_at + timedelta(seconds=_config("WEBHOOK_RETRY_FOR"))
    if delay is not None and utcnow() + timedelta(seconds=delay) > give_up_at:
        delay = None
    _note(delivery, "delivered" if error is None else "retry" if delay else "failed", delay)
    db.session.commit()
    return delay


def _note(delivery: WebhookDelivery, outcome: str, delay: float | None) -> None:
    """The attempt's outcome on the row, in the metrics and in the log."""
    now = utcnow()
    context = {"webhook_id": delivery.webhook_id, "url": delivery.url}
    metrics.webhook_delivery(outcome)
    if outcome == "retry":
        delivery.next_attempt_at = now + timedelta(seconds=delay or 0)
        logger.info(
            "webhook %s to %s: %s; trying again in %.1f s",
            delivery.event_type,
            delivery.url,
            delivery.last_error,
            delay,
            extra=context,
        )
        return
    delivery.status, delivery.finished_at, delivery.next_attempt_at = outcome, now, None
    if outcome == "delivered":
        logger.info("webhook %s delivered to %s", delivery.event_type, delivery.url, extra=context)
    else:
        logger.warning(
            "webhook %s to %s failed after %d attempt(s): %s",
            delivery.event_type,
            delivery.url,
            delivery.attempts,
            delivery.last_error,
            extra=context,
        )


def backoff(attempts: int) -> float:
    """WEBHOOK_RETRY_DELAY, then doubling with each failed attempt."""
    return min(_config("WEBHOOK_RETRY_DELAY") * 2 ** (attempts - 1), MAX_DELAY)


def _post(webhook_id: str, url: str, payload: str) -> tuple[int | None, str | None]:
    """The receiver's status, and what was wrong (None for a 2xx)."""
    now = utcnow()
    signer = Webhook(_config("WEBHOOK_SECRET"))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign(webhook_id, now, payload),
    }
    try:
        # stream: the receiver's body is never read, however big it is.
        with requests.post(
            url,
            data=payload.encode(),
            headers=headers,
            timeout=_config("WEBHOOK_TIMEOUT"),
            allow_redirects=False,
            stream=True,
        ) as response:
            status_code = response.status_code
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"[:MAX_ERROR]
    if 200 <= status_code < 300:
        return status_code, None
    return status_code, f"HTTP {status_code}"


def _config(name: str):
    return current_app.config[name]
