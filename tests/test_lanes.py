"""Text searches and job waits queue on lanes of their own in the server
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

from image_repo.web_worker import LaneDispatcher, is_job_wait, is_text_search

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


@pytest.mark.parametrize(
    ("method", "target", "is_search"),
    [
        ("GET", "/image/list?name=zz&limit=500", True),
        ("GET", "/image/list?prompt=cat", True),
        ("GET", "/image/list?limit=5&name=%E5%A4%8F", True),
        ("GET", "/image/list?name=&prompt=", False),
        ("GET", "/image/list?limit=500", False),
        ("GET", "/image/1?name=zz", False),
        ("POST", "/image/list?name=zz", False),
    ],
)
def test_what_counts_as_a_text_search(method, target, is_search):
    assert is_text_search(parsed(target, method)) is is_search


@pytest.mark.parametrize(
    ("line", "header"),
    [
        ("GARBAGE", "Host: localhost"),
        ("GET /image/list?name=zz HTTP/1.1", "Content-Length: zz"),
        ("GET /image/jobs/4f1c2a?wait=30 HTTP/1.1", "Content-Length: zz"),
    ],
)
def test_a_request_that_could_not_be_parsed_is_no_search_nor_wait(line, header):
    """waitress answers it with an error of its own, on the pool."""
    request = HTTPRequestParser(Adjustments())
    request.received(f"{line}\r\n{header}\r\n\r\n".encode())
    assert request.completed and request.error

    assert is_text_search(request) is False
    assert is_job_wait(request) is False


@pytest.mark.parametrize(
    ("method", "target", "is_wait"),
    [
        ("GET", "/image/jobs/4f1c2a?wait=30", True),
        ("GET", "/image/jobs/4f1c2a?wait=", True),
        ("GET", "/image/jobs/4f1c2a?wait=soon", True),
        ("GET", "/image/jobs/4f1c2a", False),
        ("GET", "/image/jobs/4f1c2a?waiting=30", False),
        ("DELETE", "/image/jobs/4f1c2a?wait=30", False),
        ("GET", "/image/7?wait=30", False),
    ],
)
def test_what_counts_as_a_job_wait(method, target, is_wait):
    assert is_job_wait(parsed(target, method)) is is_wait


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
