"""The checks behind `GET /health`: database reads, database writes, the store."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text, update

from .blobstore import StorageError
from .models import SQLITE_BUSY_TIMEOUT_MS, Repository, db, utcnow
from .stores import current_storage

# A write that waits longer than this for a lock counts as stalled.
WRITE_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class Report:
    checked_at: datetime
    checks: dict[str, dict[str, str]]

    @property
    def healthy(self) -> bool:
        return all(check["status"] == "ok" for check in self.checks.values())


class HealthChecks:
    """The checks, run at most once per `interval` seconds in this process.

    Each costs a database write and a probe written to the store (on a bucket,
    three billed requests), and /health is open to anyone: within the
    interval, the last report answers, saying when it was made. While a check
    is under way, other callers get the one before it instead of waiting, so
    that a store that hangs holds one thread, not one per caller.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._latest: Report | None = None
        self._made = 0.0  # time.monotonic() of the latest

    def report(self) -> Report:
        if not self._lock.acquire(blocking=self._latest is None):
            return self._latest  # type: ignore[return-value] - set before anyone can skip
        try:
            if self._latest is None or time.monotonic() - self._made >= self.interval:
                self._latest = Report(utcnow(), run())
                self._made = time.monotonic()
            return self._latest
        finally:
            self._lock.release()


def run() -> dict[str, dict[str, str]]:
    return {
        "database": _check(_read),
        "database_writes": _check(_write),
        "storage": _storage(),
    }


def _check(probe) -> dict[str, str]:
    try:
        detail = probe()
    except Exception as error:  # noqa: BLE001 - any failure is what health reports
        db.session.rollback()
        cause: Any = getattr(error, "orig", None) or error
        return {"status": "unavailable", "detail": f"{type(cause).__name__}: {cause}"[:200]}
    return {"status": "ok", "detail": detail}


def _read() -> str:
    db.session.execute(text("SELECT 1"))
    db.session.commit()
    return db.engine.dialect.name


def _write() -> str:
    """Touch the repository row, waiting at most WRITE_TIMEOUT_MS for locks."""
    with db.engine.connect() as connection:
        _lock_timeout(connection, WRITE_TIMEOUT_MS)
        try:
            connection.execute(update(Repository).values(checked_at=utcnow()))
            connection.commit()
        finally:
            connection.rollback()
            _lock_timeout(connection, None)
    return "writes go through"


def _lock_timeout(connection: Connection, milliseconds: int | None) -> None:
    """How long this connection waits for another's lock; None: the default."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA busy_timeout={milliseconds or SQLITE_BUSY_TIMEOUT_MS}")
    else:
        seconds = "DEFAULT" if milliseconds is None else str(max(1, milliseconds // 1000))
        connection.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout={seconds}")


def _storage() -> dict[str, str]:
    storage = current_storage()
    try:
        detail = storage.check()
    except StorageError as error:
        return {"status": "unavailable", "detail": f"{storage.location}: {error}"}
    return {"status": "ok", "detail": f"{storage.location}: {detail}"}
