"""Celery workers' entry point: `celery -A image_repo.worker worker` (or `make worker`).

Needs CELERY_BROKER_URL, and the web servers' DATABASE_URL and
FILE_STORAGE_LOCATION: a worker stores the pictures it makes.
"""

from __future__ import annotations

from celery.signals import setup_logging, worker_process_init, worker_ready

from . import create_app
from .generation import jobs
from .models import db
from .observability import logs

flask_app = create_app()
celery_app = flask_app.extensions.get("celery")
if celery_app is None:
    raise RuntimeError("Celery workers need CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0")


@setup_logging.connect
def _log_lines(**_kwargs: object) -> None:
    """Celery's lines like the web servers': LOG_FORMAT, with the request ids of jobs."""
    logs.configure(flask_app.config["LOG_FORMAT"], flask_app.config["LOG_LEVEL"], "celery")


@worker_process_init.connect
def _own_connections(**_kwargs: object) -> None:
    """A forked pool process must not share its parent's database connections."""
    with flask_app.app_context():
        db.engine.dispose(close=False)


@worker_ready.connect
def _recover_abandoned_jobs(**_kwargs: object) -> None:
    """Jobs whose worker died before this one started are failed, not left running."""
    with flask_app.app_context():
        jobs.recover_stale()
