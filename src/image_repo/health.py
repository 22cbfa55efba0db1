"""The checks behind `GET /health`: database reads, database writes, the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text, update

from .blobstore import StorageError
from .models import SQLITE_BUSY_TIMEOUT_MS, Repository, db, utcnow
from .stores import current_storage

# A write that waits longer than this for a lock counts as stalled.
WRITE_TIMEOUT_MS = 1000


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
