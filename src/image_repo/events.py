"""What happened to images and jobs, told to whoever listens: the log, the
metrics and the webhooks (webhooks/).

The service layer calls these once the change is committed, never a route,
so that an upload, an import and a generated picture all tell the same story.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_request_context

from . import webhooks
from .models import GenerationJob, Image, db
from .observability import metrics

logger = logging.getLogger(__name__)


def image_created(image: Image) -> None:
    if webhooks.enabled():
        webhooks.emit("image.created", _dump("ImageSchema", image))


def image_deleted(image_id: int, sha512: str) -> None:
    if webhooks.enabled():
        webhooks.emit("image.deleted", {"id": image_id, "sha512": sha512})


def job_finished(job_id: str) -> None:
    """A generation job succeeded or failed (its row says which)."""
    job = db.session.get(GenerationJob, job_id)
    if job is None:
        return
    metrics.job_finished(job)
    if job.status == "succeeded":
        logger.info("generation job %s succeeded", job.id, extra={"job_id": job.id})
    else:
        logger.warning(
            "generation job %s failed: %s: %s",
            job.id,
            job.error_code,
            job.error_message,
            extra={"job_id": job.id},
        )
    if webhooks.enabled():
        webhooks.emit(f"job.{job.status}", _dump("JobSchema", job))


def _dump(schema_name: str, record: Any) -> dict[str, Any]:
    """The record as the API shows it. Its URLs are paths, which need no host:
    outside a request (a job's thread) a blank request context builds them."""
    from .api import schemas  # the API's view of a record; imported late, it imports us

    schema = getattr(schemas, schema_name)()
    if has_request_context():
        return schema.dump(record)
    with current_app.test_request_context():
        return schema.dump(record)
