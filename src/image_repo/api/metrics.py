"""`GET /metrics`: every process's counts in the Prometheus text format.

Off with METRICS_ENABLED=false; with METRICS_TOKEN set, only a scraper that
sends `Authorization: Bearer <METRICS_TOKEN>` gets them.
"""

from __future__ import annotations

import hmac

from apiflask import APIBlueprint, abort
from flask import current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from ..observability import metrics

bp = APIBlueprint("metrics", __name__)


@bp.get("/metrics")
@bp.doc(hide=True)
def scrape() -> tuple[bytes, int, dict[str, str]]:
    config = current_app.config
    if not config["METRICS_ENABLED"]:
        abort(404)
    expected = config["METRICS_TOKEN"]
    if expected:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(
                401,
                "The metrics need `Authorization: Bearer <METRICS_TOKEN>`.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    return metrics.exposition(), 200, {"Content-Type": CONTENT_TYPE_LATEST}
