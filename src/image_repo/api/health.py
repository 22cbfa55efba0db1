"""`GET /health`: can this process read and write its database, and its store?"""

from __future__ import annotations

from apiflask import APIBlueprint

from .. import health as checks
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
    stalled writer shows), and writes and reads back a probe in the store.
    """
    report = checks.run()
    healthy = all(check["status"] == "ok" for check in report.values())
    return {"status": "ok" if healthy else "unavailable", **report}, 200 if healthy else 503
