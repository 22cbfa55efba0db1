"""Gunicorn settings for `make run`; each can be overridden from the environment.

gunicorn runs the master (startup recovery, worker processes, restarts); each
worker serves with waitress (see image_repo.web_worker), which buffers whole
requests and sends answers on its event loop, so slow clients hold no thread.
"""

import os
from pathlib import Path

from config import Config

settings = Config()
# Before image_repo (and so prometheus_client) is imported: every worker counts
# in its own files there, and /metrics sums them (image_repo.observability.metrics).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(settings.INSTANCE_PATH) / "prometheus"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from gunicorn.glogging import Logger  # noqa: E402

from image_repo.allocator import keep_big_blocks  # noqa: E402
from image_repo.observability import logs, metrics  # noqa: E402

# Workers inherit the master's malloc settings when they are forked.
if os.environ.get("KEEP_BIG_BLOCKS", "true").lower() in ("1", "true", "yes", "on"):
    keep_big_blocks()

wsgi_app = "image_repo:create_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "image_repo.web_worker.WaitressWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# The control socket's default path is shared by every gunicorn of this user:
# several servers on one machine (tests, two checkouts) would fight over it.
control_socket_disable = True


class AppLogger(Logger):
    """gunicorn's own lines go the app's way (LOG_FORMAT, stderr); its access
    log is left out: the app logs each request itself, with its id."""

    def setup(self, cfg):
        super().setup(cfg)
        logs.configure(settings.LOG_FORMAT, settings.LOG_LEVEL)
        self.error_log.handlers.clear()
        self.error_log.propagate = True

    def access(self, resp, req, environ, request_time):
        pass


logger_class = AppLogger


def on_starting(server):
    """Before any worker serves: start the metrics from zero, and finish what a
    crash left half-done (temp files, interrupted stores); see
    image_repo.maintenance.recover."""
    metrics.empty_multiprocess_dir()
    from image_repo import create_app
    from image_repo.maintenance import recover
    from image_repo.models import db

    app = create_app()
    with app.app_context():
        try:
            for finding in recover():
                server.log.info("recovery: %s", finding)
        except Exception as error:  # noqa: BLE001 - serve anyway; fsck can finish the job
            server.log.warning("recovery skipped: %s", error)
        finally:
            db.engine.dispose()
