"""Where a generated picture came from, for image details and the list's `prompt=` filter.

A picture's provenance is the job that first stored it. A later job that made
the same pixels found it already stored (`duplicate`); it is not its origin.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from .. import textsearch
from ..models import GenerationJob, Image, db


def image_provenance(image: Image) -> dict[str, Any] | None:
    """How `image` was generated, or None for a picture that was uploaded.

    Keys: prompt (as typed), final_prompt (after the style's template), style,
    backend, model, aspect_ratio, job_id, generated_at.
    """
    if image.source != "generated":
        return None
    job = db.session.scalar(
        select(GenerationJob)
        .where(GenerationJob.image_id == image.id, GenerationJob.duplicate.is_(False))
        .order_by(GenerationJob.finished_at)
        .limit(1)
    )
    if job is None:
        return None
    return {
        "prompt": job.prompt,
        "final_prompt": job.final_prompt,
        "style": job.style,
        "backend": job.backend,
        "model": job.model,
        "aspect_ratio": job.aspect_ratio,
        "job_id": job.id,
        "generated_at": job.finished_at,
    }


def prompt_contains(text: str, page: int) -> ColumnElement[bool]:
    """A condition on `Image`: generated from a prompt that contains `text`
    (in any case; `%` and `_` match themselves), for a list page of `page`."""
    search = textsearch.PROMPTS.search(text, page=page)
    made_from = select(GenerationJob.image_id).where(
        GenerationJob.duplicate.is_(False), search.holds(GenerationJob.id)
    )
    if search.walks:
        return made_from.where(GenerationJob.image_id == Image.id).exists()
    return Image.id.in_(made_from)
