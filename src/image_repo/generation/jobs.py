"""Generation jobs: submit one, run one (the task body every runner calls), and
recover the ones whose process died.

A job's row is its whole state, so any web process can answer for any job,
wherever it runs.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select, update

from .. import events, ingest
from ..blobstore import StorageError
from ..imaging import ImageRejected
from ..models import JOB_FINISHED, GenerationJob, User, db, utcnow
from ..permissions import may_change
from .backends import Backend, GenerationFailed, Options
from .prompts import prompt_manager

logger = logging.getLogger(__name__)

UNFINISHED = ("queued", "running")
JOB_ID = re.compile(r"[0-9a-f]{32}")
MAX_ERROR_MESSAGE = 1000


class InvalidGenerationRequest(ValueError):
    """A well-formed request this service cannot run; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class RunnerUnavailable(Exception):
    """The job could not be handed to a runner (the broker is down)."""


class JobNotFound(LookupError):
    """No such job among the caller's (others' jobs are not shown to exist)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"You have no generation job {job_id}.")


def backends() -> dict[str, Backend]:
    return current_app.extensions["image_repo.backends"]


def submit(
    *,
    prompt: str,
    style: str | None,
    backend: str | None,
    model: str | None,
    aspect_ratio: str | None,
    owner: User | None,
) -> GenerationJob:
    """Record a queued job and hand it to the runner.

    Raises InvalidGenerationRequest for a backend, model or style this service
    cannot use, and RunnerUnavailable (after marking the job failed) when the
    job cannot be queued.
    """
    backend_name = backend or current_app.config["GENERATION_BACKEND"]
    chosen = backends().get(backend_name)
    if chosen is None:
        raise InvalidGenerationRequest(
            "backend", f"the {backend_name} backend is not configured on this server"
        )
    model = model or chosen.default_model
    if not chosen.accepts_model(model):
        raise InvalidGenerationRequest(
            "model", f"the {backend_name} backend has no model {model!r}"
        )
    try:
        final_prompt = prompt_manager().render(prompt, style)
    except ValueError as error:
        raise InvalidGenerationRequest("style", str(error)) from None
    runner = current_app.extensions["image_repo.runner"]
    job = GenerationJob(
        id=uuid.uuid4().hex,
        owner=owner,
        prompt=prompt,
        final_prompt=final_prompt,
        style=style,
        backend=backend_name,
        model=model,
        aspect_ratio=aspect_ratio,
        status="queued",
        stage="queued",
        progress=0,
        # A queue kept in this process's memory dies with it: sign of life from now.
        heartbeat_at=utcnow() if runner.in_memory_queue else None,
    )
    db.session.add(job)
    db.session.commit()
    try:
        runner.submit(job.id)
    except RunnerUnavailable as error:
        _finish(job.id, status="failed", error_code="queue_unavailable", error_message=str(error))
        raise
    return job


def run_job(job_id: str) -> None:
    """The task body, the same under every runner: claim the job, generate,
    ingest, record the outcome. A failure to generate or store is the job's
    (status failed, with a code); only the database failing raises."""
    heartbeat = current_app.extensions["image_repo.heartbeat"]
    heartbeat.hold(job_id)
    try:
        job = _claim(job_id)
        if job is not None:
            _run(job)
    finally:
        heartbeat.release(job_id)
        current_app.extensions["image_repo.job_watcher"].notify(job_id)


def _claim(job_id: str) -> GenerationJob | None:
    """Move the job from queued to running; None when it is not queued (a
    redelivered message, or a job already failed as interrupted)."""
    now = utcnow()
    claimed = db.session.execute(
        update(GenerationJob)
        .where(GenerationJob.id == job_id, GenerationJob.status == "queued")
        .values(status="running", stage="generating", progress=10, started_at=now, heartbeat_at=now)
    ).rowcount
    db.session.commit()
    return db.session.get(GenerationJob, job_id) if claimed else None


def _run(job: GenerationJob) -> None:
    job_id = job.id
    backend = backends().get(job.backend)
    if backend is None:
        _fail(
            job_id, "backend_unavailable", f"This worker has no {job.backend} backend configured."
        )
        return
    try:
        data = backend.generate(
            job.final_prompt, model=job.model, options=Options(aspect_ratio=job.aspect_ratio)
        )
        job.stage, job.progress = "storing", 80
        db.session.commit()
        result = ingest.ingest(io.BytesIO(data), None, owner=job.owner, source="generated")
    except GenerationFailed as error:
        _fail(job_id, error.code, error.message)
    except ImageRejected as error:
        _fail(job_id, "not_an_image", f"The backend's answer is not an image we accept: {error}.")
    except StorageError as error:
        _fail(job_id, "storage_error", f"The picture could not be stored: {error}.")
    except Exception:
        logger.exception("generation job %s failed", job_id)
        _fail(job_id, "internal_error", "The job failed unexpectedly; the server log has details.")
    else:
        _finish(
            job_id,
            status="succeeded",
            progress=100,
            image_id=result.image.id,
            duplicate=not result.created,
        )


def _fail(job_id: str, code: str, message: str) -> None:
    db.session.rollback()
    _finish(job_id, status="failed", error_code=code, error_message=message[:MAX_ERROR_MESSAGE])


def _finish(job_id: str, **values) -> None:
    values.setdefault("stage", values["status"])
    db.session.execute(
        update(GenerationJob)
        .where(GenerationJob.id == job_id)
        .values(finished_at=utcnow(), **values)
    )
    db.session.commit()
    events.job_finished(job_id)


def _stale_after() -> timedelta:
    return timedelta(seconds=current_app.config["JOB_STALE_AFTER"])


def _abandoned() -> ColumnElement[bool]:
    """Unfinished jobs whose process has shown no sign of life for too long."""
    return and_(
        GenerationJob.status.in_(UNFINISHED),
        GenerationJob.heartbeat_at < utcnow() - _stale_after(),
    )


def recover_stale() -> int:
    """Fail every job whose process died (no heartbeat for JOB_STALE_AFTER)."""
    seconds = current_app.config["JOB_STALE_AFTER"]
    recovered = db.session.execute(
        update(GenerationJob)
        .where(_abandoned())
        .values(
            status="failed",
            stage="failed",
            error_code="interrupted",
            error_message=(
                f"The process running this job stopped (no sign of life for {seconds:g} s) "
                "before it finished; submit it again."
            ),
            finished_at=utcnow(),
        )
    ).rowcount
    db.session.commit()
    if recovered:
        logger.warning("failed %d generation job(s) whose process died", recovered)
    return recovered


def visible_job(job_id: str, user: User | None, *, wait: float = 0) -> GenerationJob:
    """The caller's job (an admin sees all), once it has ended or after `wait`
    seconds; raises JobNotFound for anyone else's."""
    job = get_job(job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None or not may_change(user, job.owner_id):
        raise JobNotFound(job_id)
    if wait and not job.finished:
        current_app.extensions["image_repo.job_watcher"].wait(job_id, wait)
        job = get_job(job_id)
    return job


def get_job(job_id: str) -> GenerationJob | None:
    """The job, failed first if its process died."""
    job = db.session.get(GenerationJob, job_id)
    if (
        job is not None
        and job.status in UNFINISHED
        and job.heartbeat_at is not None
        and job.heartbeat_at < utcnow() - _stale_after()
    ):
        recover_stale()
        db.session.refresh(job)
    return job


def ended_among(job_ids: list[str]) -> list[str]:
    """Which of these jobs have ended, or been abandoned by their process."""
    return list(
        db.session.scalars(
            select(GenerationJob.id).where(
                GenerationJob.id.in_(job_ids),
                or_(GenerationJob.status.in_(JOB_FINISHED), _abandoned()),
            )
        )
    )
