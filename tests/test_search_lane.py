"""Text searches queue on a lane of their own in the server `make run` starts,
so that a flood of them leaves the threads to everyone else's requests.

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

from image_repo.web_worker import SearchLaneDispatcher, is_text_search

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems


def parsed(target: str, method: str = "GET") -> HTTPRequestParser:
    request = HTTPRequestParser(Adjustments())
    request.received(f"{method} {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    assert request.completed
    return request


class Channel:
    """What the dispatcher hands to a thread: one complete request. Running it
    reports its target, then holds its thread until `release` is set."""

    def __init__(self, target: str, ran: queue.Queue, release: threading.Event) -> None:
        self.target = target
        self.requests = [parsed(target)]
        self.ran, self.release = ran, release

    def service(self) -> None:
        self.ran.put(self.target)
        assert self.release.wait(10)

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


def test_a_flood_of_searches_waits_on_its_lane_while_others_are_answered():
    dispatcher = SearchLaneDispatcher(lanes=1)
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
    dispatcher = SearchLaneDispatcher(lanes=1)
    dispatcher.set_thread_count(1)
    times: dict[str, tuple[float, float]] = {}
    finished = threading.Semaphore(0)

    class Search(Channel):
        def service(self) -> None:
            started = time.monotonic()
            time.sleep(0.2)
            times[self.target] = (started, time.monotonic())
            finished.release()

    try:
        for n in range(3):
            dispatcher.add_task(Search(f"/image/list?name=a{n}", queue.Queue(), threading.Event()))
        for _ in range(3):
            assert finished.acquire(timeout=5)
        first, second, third = (times[f"/image/list?name=a{n}"] for n in range(3))
        assert second[0] - first[1] >= 0.19, "the lane rested after the first search"
        assert third[0] - second[1] >= 0.19
        time.sleep(0.3)  # the third one came with none waiting: no rest after it

        asked = time.monotonic()
        dispatcher.add_task(Search("/image/list?name=alone", queue.Queue(), threading.Event()))
        assert finished.acquire(timeout=5)
        assert times["/image/list?name=alone"][0] - asked < 0.1
    finally:
        dispatcher.shutdown(timeout=5)
