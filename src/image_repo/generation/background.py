"""A per-process helper thread that runs only while there is work for it."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from flask import Flask

logger = logging.getLogger(__name__)


class KeyedLoop:
    """Calls `tick(keys)` every `interval` seconds while any key is held.

    The thread starts on the first `hold` and ends when the last key is
    released, so an idle process runs no thread; a forked child starts its
    own. A failing tick is logged and retried on the next one.
    """

    def __init__(self, app: Flask, interval: float, name: str) -> None:
        self.app = app
        self.interval = interval
        self.name = name
        self._lock = threading.Lock()
        self._keys: Counter[str] = Counter()
        self._thread: threading.Thread | None = None

    def hold(self, key: str) -> None:
        with self._lock:
            self._keys[key] += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def release(self, key: str) -> None:
        with self._lock:
            self._keys[key] -= 1
            if self._keys[key] <= 0:
                del self._keys[key]

    def tick(self, keys: list[str]) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                keys = list(self._keys)
                if not keys:
                    self._thread = None
                    return
            try:
                with self.app.app_context():
                    self.tick(keys)
            except Exception:
                logger.exception("%s: tick failed; trying again in %s s", self.name, self.interval)
