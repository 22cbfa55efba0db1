"""Places for connections in a worker, and who gives theirs up when all are taken.

An idle or slow connection costs waitress no thread, but it takes one of the
worker's places. Left to waitress, a client that opens a thousand connections
and sends nothing leaves no place for anyone else: the worker stops accepting
until its idle connections time out, two minutes later, and the client opens
them again. So once a worker's places are full, each new connection makes the
worker close the one that moved the fewest bytes in the last second (sent or
received): one that sends nothing, drips a byte now and then, or does not read
its answer. Never one whose request has been read whole (being served, or
waiting for a thread), and never one younger than GRACE_SECONDS, which has not
had its chance to send a request yet.
"""

from __future__ import annotations

import heapq
import logging
import time

from waitress.channel import HTTPChannel

# How long a new connection is safe from being closed to make room.
GRACE_SECONDS = 1.0


class TrackedChannel(HTTPChannel):
    """waitress's connection, counting the bytes it moves."""

    moved = 0  # bytes received and sent, ever
    recent = 0  # of those, in the last complete tick (about a second)
    _moved_at_tick = 0

    def received(self, data: bytes) -> bool:
        self.moved += len(data)
        return super().received(data)

    def send(self, data: bytes, do_close: bool = True) -> int:
        sent = super().send(data, do_close)
        self.moved += sent
        return sent

    def tick(self) -> None:
        self.recent, self._moved_at_tick = self.moved - self._moved_at_tick, self.moved


class Places:
    """A worker's places for connections: `count` of them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.closed = 0  # connections closed to make room, not yet logged

    def make_room(self, channels: dict[int, object]) -> None:
        """After each turn of the event loop (`channels`: waitress's map)."""
        if len(channels) > self.count:
            self.closed += _close_least_active(list(channels.values()), self.count)

    def tick(self, channels: dict[int, object], log: logging.Logger) -> None:
        """About once a second: start a new second of counting, and say what
        was closed since the last tick."""
        for channel in list(channels.values()):
            if isinstance(channel, TrackedChannel):
                channel.tick()
        if self.closed:
            log.warning(
                "more than %d connections: closed %d that did least "
                "(idle, sending slowly or not reading)",
                self.count,
                self.closed,
            )
            self.closed = 0


def _close_least_active(channels: list[object], places: int) -> int:
    """Close the connections over `places` that moved the least (see the
    module's docstring); the number closed. Fewer when too few can be closed."""
    tracked = [channel for channel in channels if isinstance(channel, TrackedChannel)]
    excess = len(tracked) - places
    if excess <= 0:
        return 0
    settled = time.time() - GRACE_SECONDS  # waitress times its connections by the wall clock
    closable = [
        channel for channel in tracked if not channel.requests and channel.creation_time < settled
    ]
    for channel in heapq.nsmallest(
        excess, closable, key=lambda channel: (channel.recent, channel.last_activity)
    ):
        channel.handle_close()
    return min(excess, len(closable))
