"""Text searches, job waits and thumbnails queue on lanes of their own in the server
`make run` starts, so that however many come, the pool's threads are left to
everyone else's requests.

The dispatcher is waitress's, fed requests parsed by waitress's own parser;
only the channel that would run the app is a stand-in that records when it
runs. bench/text_filters.py (figure 10) measures the flood on a real server.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest
from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser

from image_repo.web_worker import (
    THUMBNAIL_THREADS,
    LaneDispatcher,
    is_job_wait,
    is_text_search,
    is_thumbnail,
)

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems


def parsed(target: str, method: str = "GET") -> HTTPRequestParser:
    request = HTTPRequestParser(Adjustments())
    request.received(f"{method} {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    assert request.completed
    return request


class Channel:
    """What the dispatcher hands to a thread: one complete request. Running it
    reports its target, holds its thread until `release` is set (if given),
    then for `seconds`; it notes when it started and ended."""

    def __init__(
        self,
        target: str,
        ran: queue.Queue,
        release: threading.Event | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.target = target
        self.requests = [parsed(target)]
        self.ran, self.release, self.seconds = ran, release, seconds
        self.started = self.ended = 0.0

    def service(self) -> None:
        self.started = time.monotonic()
        self.ran.put(self.target)
        if self.release is not None:
            assert self.release.wait(10)
        time.sleep(self.seconds)
        self.ended = time.monotonic()

    def cancel(self) -> None:
        pass


SEARCH, WAIT, THUMBNAIL = is_text_search, is_job_wait, is_thumbnail


@pytest.mark.parametrize(
    ("kind", "method", "target", "is_one"),
    [
        (SEARCH, "GET", "/image/list?name=zz&limit=500", True),
        (SEARCH, "GET", "/image/list?prompt=cat", True),
        (SEARCH, "GET", "/image/list?limit=5&name=%E5%A4%8F", True),
        (SEARCH, "GET", "/image/list?name=&prompt=", False),
        (SEARCH, "GET", "/image/list?limit=500", False),
        (SEARCH, "GET", "/image/1?name=zz", False),
        (SEARCH, "POST", "/image/list?name=zz", False),
        (WAIT, "GET", "/image/jobs/4f1c2a?wait=30", True),
        (WAIT, "GET", "/image/jobs/4f1c2a?wait=", True),
        (WAIT, "GET", "/image/jobs/4f1c2a?wait=soon", True),
        (WAIT, "GET", "/image/jobs/4f1c2a", False),
        (WAIT, "GET", "/image/jobs/4f1c2a?waiting=30", False),
        (WAIT, "DELETE", "/image/jobs/4f1c2a?wait=30", False),
        (WAIT, "GET", "/image/7?wait=30", False),
        (THUMBNAIL, "GET", "/image/7/thumbnail", True),
        (THUMBNAIL, "GET", "/image/7/thumbnail?size=1024&format=avif", True),
        (THUMBNAIL, "GET", "/image/abc/thumbnail", True),  # the route answers its 404
        (THUMBNAIL, "HEAD", "/image/7/thumbnail", False),
        (THUMBNAIL, "GET", "/image/7", False),
        (THUMBNAIL, "GET", "/image/7/base64?thumbnail=256", True),
        (THUMBNAIL, "GET", "/image/7/base64?format=webp&thumbnail=", True),  # the route: 400
        (THUMBNAIL, "GET", "/image/7/base64", False),
        (THUMBNAIL, "GET", "/image/7/base64?format=webp", False),
        (THUMBNAIL, "GET", "/image/7/thumbnail/x", False),
    ],
)
def test_which_requests_take_a_lane(kind, method, target, is_one):
    assert kind(parsed(target, method)) is is_one


@pytest.mark.parametrize(
    ("line", "header"),
    [
        ("GARBAGE", "Host: localhost"),
        ("GET /image/list?name=zz HTTP/1.1", "Content-Length: zz"),
        ("GET /image/jobs/4f1c2a?wait=30 HTTP/1.1", "Content-Length: zz"),
        ("GET /image/7/thumbnail HTTP/1.1", "Content-Length: zz"),
    ],
)
def test_a_request_that_could_not_be_parsed_takes_no_lane(line, header):
    """waitress answers it with an error of its own, on the pool."""
    request = HTTPRequestParser(Adjustments())
    request.received(f"{line}\r\n{header}\r\n\r\n".encode())
    assert request.completed and request.error

    assert not any(kind(request) for kind in (SEARCH, WAIT, THUMBNAIL))


def test_thumbnails_run_on_threads_of_their_own():
    """However many thumbnails are being made, the pool's threads are free,
    and no more than THUMBNAIL_THREADS thumbnails run at once."""
    dispatcher = LaneDispatcher()
    dispatcher.set_thread_count(1)
    ran: queue.Queue = queue.Queue()
    made = threading.Event()
    try:
        for n in range(THUMBNAIL_THREADS + 3):
            dispatcher.add_task(Channel(f"/image/{n}/thumbnail", ran, made))
        running = {ran.get(timeout=5) for _ in range(THUMBNAIL_THREADS)}
        assert running == {f"/image/{n}/thumbnail" for n in range(THUMBNAIL_THREADS)}

        dispatcher.add_task(Channel("/image/7", ran))
        assert ran.get(timeout=5) == "/image/7", "the pool's thread is free"
        with pytest.raises(queue.Empty):  # the other thumbnails wait for the lane
            ran.get(timeout=0.3)
    finally:
        made.set()
        dispatcher.shutdown(timeout=5)


def test_job_waits_hold_threads_of_their_own():
    dispatcher = LaneDispatcher()
    dispatcher.set_thread_count(1)
    ran: queue.Queue = queue.Queue()
    job_ends = threading.Event()
    try:
        for n in range(5):
            dispatcher.add_task(Channel(f"/image/jobs/j{n}?wait=30", ran, job_ends))
        waits = {ran.get(timeout=5) for _ in range(5)}
        assert waits == {f"/image/jobs/j{n}?wait=30" for n in range(5)}, "all wait at once"

        dispatcher.add_task(Channel("/image/7", ran))
        assert ran.get(timeout=5) == "/image/7", "the pool's thread is free"
    finally:
        job_ends.set()
        dispatcher.shutdown(timeout=5)


def test_a_flood_of_searches_waits_on_its_lane_while_others_are_answered():
    dispatcher = LaneDispatcher()
    dispatcher.set_thread_count(2)
    ran: queue.Queue = queue.Queue()
    searches_go, others_go = threading.Event(), threading.Event()
    try:
        for n in range(6):
            dispatcher.add_task(Channel(f"/image/list?name=zz{n}", ran, searches_go))
        for target in ["/image/7", "/image/list?limit=50"]:
            dispatcher.add_task(Channel(target, ran, others_go))

        first = {ran.get(timeout=5) for _ in range(3)}
        assert first == {"/image/list?name=zz0", "/image/7", "/image/list?limit=50"}
        with pytest.raises(queue.Empty):  # the other searches wait for the lane
            ran.get(timeout=0.3)

        searches_go.set()
        others_go.set()
        rest = [ran.get(timeout=5) for _ in range(5)]
        assert rest == [f"/image/list?name=zz{n}" for n in range(1, 6)], "in arrival order"
    finally:
        searches_go.set()
        others_go.set()
        dispatcher.shutdown(timeout=5)


def test_while_searches_wait_the_lane_rests_as_long_as_the_last_one_ran():
    """A flood gets at most half of the lane's time; a lone search is not held."""
    dispatcher = LaneDispatcher()
    dispatcher.set_thread_count(1)
    ran: queue.Queue = queue.Queue()
    try:
        searches = [Channel(f"/image/list?name=a{n}", ran, seconds=0.2) for n in range(3)]
        for search in searches:
            dispatcher.add_task(search)
        for _ in searches:
            ran.get(timeout=5)
        time.sleep(0.3)  # the third one ends with none waiting: no rest after it
        first, second, third = searches
        assert second.started - first.ended >= 0.19, "the lane rested after the first search"
        assert third.started - second.ended >= 0.19

        alone = Channel("/image/list?name=alone", ran)
        asked = time.monotonic()
        dispatcher.add_task(alone)
        ran.get(timeout=5)
        assert alone.started - asked < 0.1
    finally:
        dispatcher.shutdown(timeout=5)
