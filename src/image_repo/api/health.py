"""`GET /health`: can this process reach its database and write its storage?"""

from __future__ import annotations

from apiflask import APIBlueprint
from sqlalchemy import text

from ..ingest import current_storage
from ..models import db
from ..storage import StorageError
from .errors import DATABASE_DOWN
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

    Runs `SELECT 1` on the database and writes a probe file to the storage.
    """
    checks = {"database": _check_database(), "storage": _check_storage()}
    healthy = all(check["status"] == "ok" for check in checks.values())
    return {"status": "ok" if healthy else "unavailable", **checks}, 200 if healthy else 503


def _check_database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
    except DATABASE_DOWN as error:
        db.session.rollback()
        cause = getattr(error, "orig", None) or error
        return {"status": "unavailable", "detail": type(cause).__name__}
    return {"status": "ok", "detail": db.engine.dialect.name}


def _check_storage() -> dict:
    try:
        usage = current_storage().check()
    except StorageError as error:
        return {"status": "unavailable", "detail": str(error)}
    return {"status": "ok", "detail": f"{usage['free_bytes'] // 2**20} MiB free"}
