"""Celery wiring (the Flask docs' `celery_init_app` pattern) and the one task.

Workers start with `celery -A image_repo.worker worker` (or `make worker`).
"""

from __future__ import annotations

from celery import Celery, Task, shared_task
from flask import Flask

from ..observability.request_id import carried
from . import jobs

TASK_NAME = "image_repo.generate"


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(
        {
            "broker_url": app.config["CELERY_BROKER_URL"],
            "task_default_queue": app.config["CELERY_QUEUE"],
            "task_ignore_result": True,
            # A job's message is acknowledged when it is done, not when taken,
            # and a worker takes one message at a time.
            "task_acks_late": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            # A request must not hang on a broker that is down: fail fast, answer 503.
            "broker_connection_timeout": 3,
            "task_publish_retry_policy": {
                "max_retries": 2,
                "interval_start": 0,
                "interval_step": 0.5,
                "interval_max": 1,
            },
        }
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@shared_task(name=TASK_NAME, ignore_result=True)
def generate(job_id: str, request_id: str | None = None) -> None:
    """`request_id`: of the request that submitted the job, for the job's log lines."""
    with carried(request_id):
        jobs.run_job(job_id)
