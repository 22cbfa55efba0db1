"""Gunicorn settings for the baseline app: those of gunicorn.conf.py that
matter for speed (worker class, workers, threads, allocator), nothing else."""

import os

from image_repo.allocator import keep_big_blocks

keep_big_blocks()
pythonpath = os.path.dirname(os.path.abspath(__file__))
wsgi_app = "baseline_app:app"
bind = f"127.0.0.1:{os.environ['PORT']}"
workers = int(os.environ["WEB_CONCURRENCY"])
worker_class = "image_repo.web_worker.WaitressWorker"
threads = int(os.environ["GUNICORN_THREADS"])
control_socket_disable = True
