"""Gunicorn settings for `make run`; each can be overridden from the environment.

gunicorn runs the master (startup recovery, worker processes, restarts); each
worker serves with waitress (see image_repo.web_worker), which buffers whole
requests and sends answers on its event loop, so slow clients hold no thread.
"""

import os

from image_repo.allocator import keep_big_blocks

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


def on_starting(server):
    """Before any worker serves: finish what a crash left half-done (temp files,
    interrupted stores); see image_repo.maintenance.recover."""
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
