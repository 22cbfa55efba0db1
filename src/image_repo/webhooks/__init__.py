"""Webhooks per the Standard Webhooks specification (standardwebhooks.com).

Every URL in WEBHOOK_URLS gets every event as a JSON body `{"type",
"timestamp", "data"}`, signed with WEBHOOK_SECRET in the `webhook-id`,
`webhook-timestamp` and `webhook-signature` headers. Delivery happens off the
request path, on this process's threads or on Celery workers, with retries
and exponential backoff for WEBHOOK_RETRY_FOR seconds; each delivery has a
row in `webhook_deliveries` (`flask webhooks list`).
"""

from __future__ import annotations

import binascii
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from ..models import utcnow
from ..observability import request_id
from . import tasks  # noqa: F401 - registers the Celery task
from .delivery import Message
from .dispatch import CeleryDispatcher, ThreadDispatcher

EXTENSION = "image_repo.webhooks"


def init_app(app: Flask) -> None:
    config = app.config
    if not config["WEBHOOK_URLS"]:
        return
    for url in config["WEBHOOK_URLS"]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"WEBHOOK_URLS: {url!r} is not an http:// or https:// URL")
    secret = config["WEBHOOK_SECRET"] or ""
    try:
        if not secret.startswith("whsec_"):
            raise ValueError("it does not start with whsec_")
        Webhook(secret)
    except (binascii.Error, ValueError, EmptyWebhookSecretError) as error:
        raise ValueError(
            f"WEBHOOK_URLS needs WEBHOOK_SECRET, whsec_ and a key in base64: {error}"
        ) from None
    if config["CELERY_BROKER_URL"]:
        dispatcher: CeleryDispatcher | ThreadDispatcher = CeleryDispatcher(app.extensions["celery"])
    else:
        dispatcher = ThreadDispatcher(app, config["WEBHOOK_THREADS"])
    app.extensions[EXTENSION] = dispatcher


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def emit(event_type: str, data: dict[str, Any]) -> None:
    """Hand the event to the runner, once per receiver; returns at once."""
    payload = json.dumps(
        {"type": event_type, "timestamp": utcnow().isoformat(), "data": data},
        default=str,
        separators=(",", ":"),
    )
    webhook_id = f"msg_{uuid.uuid4().hex}"
    dispatcher = current_app.extensions[EXTENSION]
    for url in current_app.config["WEBHOOK_URLS"]:
        dispatcher.submit(Message(webhook_id, event_type, url, payload, request_id.current()))
