"""Generation endpoints: submit a prompt, follow the job, list the styles."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import String
from flask import url_for

from ..generation import jobs
from ..generation.prompts import prompt_manager
from ..models import GenerationJob
from .auth import auth, current_user, public_read, writer
from .rate_limit import generation_rate_limited
from .schemas import GenerateSchema, JobQuerySchema, JobSchema, StyleSchema

bp = APIBlueprint("generate", __name__, url_prefix="/image", tag="Generation")


@bp.post("/generate")
@bp.auth_required(auth, optional=True)
@writer
@generation_rate_limited
@bp.input(GenerateSchema, arg_name="body")
@bp.output(
    JobSchema,
    status_code=202,
    description="Queued: follow the job at `Location`.",
    headers={"Location": String(metadata={"description": "The job's URL."})},
)
@bp.doc(
    responses={
        401: "No valid API token.",
        422: "An invalid prompt, or a style, backend or model this server does not have.",
        429: "Too many generate requests; `Retry-After` says when to try again.",
        503: "The job queue is unavailable.",
    }
)
def generate(body: dict) -> tuple[GenerationJob, int, dict[str, str]]:
    """Generate an image

    Queues a job that asks the backend for a picture of `prompt` (wrapped in
    `style`'s template). The finished picture is stored like an upload: the
    same picture twice is one image. Follow the job at `Location`.
    """
    job = jobs.submit(owner=current_user(), **body)
    return job, 202, {"Location": url_for(".get_job", job_id=job.id)}


@bp.get("/jobs/<job_id>")
@bp.auth_required(auth, optional=True)
@writer
@bp.input(JobQuerySchema, location="query", arg_name="query")
@bp.output(JobSchema)
@bp.doc(responses={401: "No valid API token.", 404: "No such job among yours."})
def get_job(job_id: str, query: dict) -> GenerationJob:
    """A generation job

    Its status (queued, running, succeeded, failed), progress, error and
    image. `?wait=30` answers as soon as the job ends, or after 30 seconds.
    """
    return jobs.visible_job(job_id, current_user(), wait=query["wait"])


@bp.get("/styles")
@bp.auth_required(auth, optional=True)
@public_read
@bp.output(StyleSchema(many=True))
def styles() -> list:
    """List the styles

    Each style's template wraps the prompt of `POST /image/generate`.
    """
    return prompt_manager().styles()
