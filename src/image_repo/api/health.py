"""`GET /health`: can this process read and write its database, and its store?"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app

from ..health import HealthChecks
from .schemas import HealthSchema

bp = APIBlueprint("health", __name__, tag="Health")


@bp.get("/health")
@bp.output(HealthSchema, description="Everything is reachable.")
@bp.doc(
    responses={
        503: {
            "description": "Something is down; the body says what.",
            "content": {"application/json": {"schema": HealthSchema}},
        }
    }
)
def health() -> tuple[dict, int]:
    """Health check

    Reads the database (`SELECT 1`), writes to it within a second (so that a
    stalled writer shows), and writes and reads back a probe in the store. A
    process runs these checks at most once per `HEALTH_CHECK_INTERVAL`
    seconds; `checked_at` says when.
    """
    checks: HealthChecks = current_app.extensions["image_repo.health"]
    report = checks.report()
    status = "ok" if report.healthy else "unavailable"
    body = {"status": status, "checked_at": report.checked_at, **report.checks}
    return body, 200 if report.healthy else 503
