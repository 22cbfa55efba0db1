"""Gunicorn settings for `make run`; each can be overridden from the environment."""

import os

wsgi_app = "image_repo:create_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
# The control socket's default path is shared by every gunicorn of this user:
# several servers on one machine (tests, two checkouts) would fight over it.
control_socket_disable = True
