"""A gunicorn worker class that serves with waitress: slow clients cost no thread.

gunicorn's gthread worker gives a connection to a thread as soon as it is
readable; the thread then reads the headers and body and writes the answer at
the client's pace. Twenty clients sending a byte every few seconds, or never
reading a large answer, hold every thread of every worker and the server stops
answering anyone.

waitress reads requests on one event loop and hands a request to its thread
pool only once it is complete (bodies past `inbuf_overflow` wait in a temp
file), and the loop sends the answers (files straight from disk): a thread
only ever runs the application. When a flood of connections takes every
place, the ones that do least give theirs up (see `connections`).

gunicorn keeps what it does well: one master that runs the startup hooks
once, forks WEB_CONCURRENCY worker processes on one listening socket (every
core decodes pictures), restarts any that dies or stops checking in within
`timeout`, and stops them all on SIGTERM.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import time
import warnings
from urllib.parse import parse_qs

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.server import create_server
from waitress.task import ThreadedTaskDispatcher

from . import connections
from .catalog import TEXT_FILTERS

# Seconds the event loop waits for sockets before it checks in with the master.
POLL_SECONDS = 1.0
# Places for connections per worker (slow or idle ones included); past them,
# each new connection closes the one that does least (see `connections`).
# Each costs a file descriptor and a little memory, no thread.
CONNECTION_LIMIT = 500
# Where waitress stops accepting: when all connections past the places have
# their request read whole or are too new to close.
HARD_CONNECTION_LIMIT = 2 * CONNECTION_LIMIT
# Past MAX_CONTENT_LENGTH, the bytes waitress still takes so that the app
# answers an oversized body itself.
BODY_SLACK = 1 << 20
MAX_HEADER_BYTES = 64 * 1024
LIST_PATH = "/image/list"
JOBS_PATH = "/image/jobs/"
# A thumbnail as a file, or as base64 when the query asks for one.
THUMBNAIL_PATH = re.compile(r"/image/[^/]+/(thumbnail|base64)")
# Job waits (`?wait=`) per worker that hold a thread at once; blocked on an
# event, a thread costs no CPU and little memory.
WAIT_THREADS = 64
# Thumbnail requests per worker served at once. Two, not four: in runs of
# figure 9 taking turns, cached thumbnails came at 1.47 and 1.59 times
# thumbor's rate with two (p99 0.73 and 0.68 of its), 1.34 and 1.29 with
# four, and 1.39 twice on the pool.
THUMBNAIL_THREADS = 2


class WaitressWorker(Worker):
    """`worker_class = "image_repo.web_worker.WaitressWorker"` in gunicorn.conf.py;
    `threads` (GUNICORN_THREADS) sizes each worker's pool."""

    def run(self) -> None:
        # The app's 140,000 objects from start-up live as long as the worker:
        # left to the collector, each full collection walks them all (about
        # 70 ms, every in-flight request held up). Frozen, they are skipped.
        gc.collect()
        gc.freeze()
        # waitress warns "Task queue depth is N" on its event loop for every
        # request that finds the threads busy: under load, a line per request
        # (4 % of the workers' Python time in a flood of cached thumbnails),
        # just when the loop can least afford it. Waiting for a thread is what
        # a busy server does; the request durations (access lines, /metrics)
        # say how long.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        # The pool is sized here: waitress's `threads` only sizes a pool it makes itself.
        dispatcher = LaneDispatcher()
        dispatcher.set_thread_count(self.cfg.threads)
        with warnings.catch_warnings():  # send_bytes's deprecation (see waitress_settings)
            warnings.simplefilter("ignore", DeprecationWarning)
            server = create_server(
                self.wsgi,
                sockets=[listener.sock for listener in self.sockets],
                _dispatcher=dispatcher,
                **waitress_settings(self.wsgi.config.get("MAX_CONTENT_LENGTH")),
            )
        server.channel_class = connections.TrackedChannel
        places = connections.Places(CONNECTION_LIMIT)
        sockets = server._map  # waitress keeps its channels in this dict
        checked_in = 0.0
        while self.alive and self.ppid == os.getppid():
            wasyncore.poll2(POLL_SECONDS, sockets)
            places.make_room(sockets)
            now = time.monotonic()
            if now - checked_in >= POLL_SECONDS:
                self.notify()
                places.tick(sockets, self.log)
                checked_in = now
        self._finish(server, sockets)

    def _finish(self, server, sockets: dict) -> None:
        """Stop accepting; let the answers under way go out (within
        graceful_timeout), closing each connection once it has nothing to do."""
        server.close()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline:
            open_channels = [c for c in sockets.values() if hasattr(c, "requests")]
            if not open_channels:
                break
            for channel in open_channels:
                if not channel.requests:
                    channel.close_when_flushed = True
            wasyncore.poll2(0.1, sockets)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)


class LaneDispatcher(ThreadedTaskDispatcher):
    """waitress's thread pool, with three kinds of request queued apart on
    lanes of their own, so that however many of them come, the pool's threads
    (and the cores) stay free for everyone else's requests:

    - a substring search costs the database far more than a download, and it
      is what a flood would send: they run one at a time and wait their turn
      without a thread or any CPU (see PacedTask);
    - a job's `?wait=` holds its thread, without CPU, until the job ends
      (Gemini may take many seconds): up to WAIT_THREADS of them wait at once,
      the next ones queue behind them;
    - a thumbnail not made yet costs a decode and an encode (an AVIF, a
      quarter of a second), and whether it is made is known only once the
      app looks: every GET of /image/<id>/thumbnail, and of
      /image/<id>/base64?thumbnail=..., runs on THUMBNAIL_THREADS of their own.
    """

    def __init__(self) -> None:
        super().__init__()
        self.search_lane = ThreadedTaskDispatcher()
        self.search_lane.set_thread_count(1)
        self.wait_lane = ThreadedTaskDispatcher()
        self.wait_lane.set_thread_count(WAIT_THREADS)
        self.thumbnail_lane = ThreadedTaskDispatcher()
        self.thumbnail_lane.set_thread_count(THUMBNAIL_THREADS)

    def add_task(self, task) -> None:  # a channel with a complete request
        request = task.requests[0]
        if is_text_search(request):
            self.search_lane.add_task(PacedTask(task, self.search_lane))
        elif is_job_wait(request):
            self.wait_lane.add_task(task)
        elif is_thumbnail(request):
            self.thumbnail_lane.add_task(task)
        else:
            super().add_task(task)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        for lane in (self.search_lane, self.wait_lane, self.thumbnail_lane):
            lane.shutdown(cancel_pending, timeout)
        return super().shutdown(cancel_pending, timeout)


class PacedTask:
    """A search on the lane: once answered, if more are waiting, the lane
    rests as long as this one ran before it takes the next, so that a flood
    of searches gets at most half of a core in each worker. A search that
    comes alone is not held up."""

    def __init__(self, channel, lane: ThreadedTaskDispatcher) -> None:
        self.channel, self.lane = channel, lane

    def service(self) -> None:
        started = time.monotonic()
        self.channel.service()
        if self.lane.queue:
            time.sleep(time.monotonic() - started)

    def cancel(self) -> None:
        self.channel.cancel()


def is_job_wait(request) -> bool:
    """A GET of a job that asks to wait for its end (any `wait` given: the
    route answers a bad one at once)."""
    if request.error or not request.path.startswith(JOBS_PATH) or request.command != "GET":
        return False
    return "wait" in parse_qs(request.query, keep_blank_values=True)


def is_thumbnail(request) -> bool:
    """A GET of an image's thumbnail (made or not), as a file or as base64; a
    request that could not be parsed is not one."""
    if request.error or request.command != "GET":
        return False
    path = THUMBNAIL_PATH.fullmatch(request.path)
    if path is None:
        return False
    return path[1] == "thumbnail" or "thumbnail" in parse_qs(request.query, keep_blank_values=True)


def is_text_search(request) -> bool:
    """A list filtered by a substring (catalog.TEXT_FILTERS); a request that
    could not be parsed is not one."""
    if request.error or request.path != LIST_PATH or request.command != "GET":
        return False
    query = parse_qs(request.query)
    return any(value for name in TEXT_FILTERS for value in query.get(name, []))


def waitress_settings(max_content_length: int | None) -> dict:
    """What waitress would otherwise decide differently from the app.

    Bodies up to MAX_CONTENT_LENGTH (and a little more, so that the app itself
    answers the 413, in problem+json) are buffered; each worker accepts up to
    HARD_CONNECTION_LIMIT connections (the worker keeps them to
    CONNECTION_LIMIT).
    A body is read from the socket up to 256 KiB at a time rather than 8: a
    4 MB upload takes 16 turns of the event loop, not 500 (a stored file sent
    again answers in 26 ms instead of 36, figure 1).

    An answer is sent once 256 KiB of it are ready (or it is complete), not
    each piece as it comes: waitress's default sends the headers and then the
    body, two sends where one does. With one, a cached thumbnail was answered
    at 1.17 times the rate and a 182 KB original at 1.3 times (wrk, the two
    settings taking turns).
    `send_bytes` is deprecated in waitress 3 (still there, and pinned).
    """
    settings = {
        "ident": "image-repo",
        "connection_limit": HARD_CONNECTION_LIMIT,
        "max_request_header_size": MAX_HEADER_BYTES,
        "asyncore_use_poll": True,
        "recv_bytes": 256 * 1024,
        "send_bytes": 256 * 1024,
    }
    if max_content_length:
        settings["max_request_body_size"] = max_content_length + BODY_SLACK
    return settings
