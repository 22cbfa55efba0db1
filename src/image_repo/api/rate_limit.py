"""Per-caller rate limits for the endpoints that are costly to serve (generate, upload).

Counting is the `limits` library's (the one under Flask-Limiter), used at the
one endpoint that needs it: Flask-Limiter hooks into every request of the app
(before, after and teardown), which cost downloads a tenth of their speed for
a limit that only generation has.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app, request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .auth import current_user

log = logging.getLogger(__name__)


class RateLimited(Exception):
    """Past a rate limit; `retry_after` seconds until the window frees up."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimit:
    """`limit` (e.g. "10/minute") per caller, counted in `storage_uri`
    (`memory://` in this process, `redis://...` across all)."""

    def __init__(self, limit: str, storage_uri: str, key_prefix: str) -> None:
        self.limit = limit
        self.item = parse(limit)
        self.counter = FixedWindowRateLimiter(storage_from_string(storage_uri))
        self.key_prefix = key_prefix

    def hit(self, caller: str, cost: int = 1) -> int | None:
        """Count `cost` units of `caller`: None while within the limit, else the
        seconds until the window frees up. A store that cannot count (Redis
        down) lets the request through: the limit protects a backend, it is not
        worth refusing every request for."""
        try:
            if self.counter.hit(self.item, self.key_prefix, caller, cost=cost):
                return None
            reset_at, _ = self.counter.get_window_stats(self.item, self.key_prefix, caller)
        except Exception as error:  # noqa: BLE001 - redis raises its own error classes
            log.warning("rate limit not counted: %s", error)
            return None
        return max(1, math.ceil(reset_at - time.time()))


def init_app(app: Flask) -> None:
    for kind in ("generation", "upload"):
        app.extensions[f"image_repo.{kind}_rate_limit"] = RateLimit(
            app.config[f"{kind.upper()}_RATE_LIMIT"],
            app.config["RATELIMIT_STORAGE_URI"],
            f"{app.config['RATELIMIT_KEY_PREFIX']}:{kind}",
        )


def _caller() -> str:
    """Limits count per user; anonymous callers (when allowed) per address."""
    user = current_user()
    return f"user:{user.id}" if user else f"address:{request.remote_addr}"


def generation_rate_limited(view: Callable) -> Callable:
    """Past the generation limit: 429 problem+json with `Retry-After`."""

    @wraps(view)
    def check(*args, **kwargs):
        _charge("generation", 1, "generate requests")
        return view(*args, **kwargs)

    return check


def charge_uploads(files: int) -> None:
    """Count `files` uploads against the caller's upload limit; raises RateLimited."""
    _charge("upload", files, "uploaded files")


def _charge(kind: str, cost: int, what: str) -> None:
    rate_limit: RateLimit = current_app.extensions[f"image_repo.{kind}_rate_limit"]
    retry_after = rate_limit.hit(_caller(), cost)
    if retry_after is not None:
        raise RateLimited(
            f"Too many {what}: at most {rate_limit.limit} per user. "
            "Try again after Retry-After seconds.",
            retry_after,
        )
