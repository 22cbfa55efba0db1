"""Image generation: prompts and styles, backends, jobs and where they run."""

from __future__ import annotations

from flask import Flask

from .backends import make_backends
from .runner import CeleryRunner, Heartbeat, ThreadRunner
from .tasks import celery_init_app
from .waiting import JobWatcher


def init_app(app: Flask) -> None:
    """Backends, the heartbeat, the `?wait=` watcher and the runner for this app."""
    config = app.config
    app.extensions["image_repo.backends"] = make_backends(config)
    app.extensions["image_repo.heartbeat"] = Heartbeat(
        app, interval=config["JOB_STALE_AFTER"] / 4, name="job-heartbeat"
    )
    app.extensions["image_repo.job_watcher"] = JobWatcher(app, config["JOB_POLL_INTERVAL"])
    if config["CELERY_BROKER_URL"]:
        runner: CeleryRunner | ThreadRunner = CeleryRunner(celery_init_app(app))
    else:
        runner = ThreadRunner(app, config["GENERATION_THREADS"])
    app.extensions["image_repo.runner"] = runner
