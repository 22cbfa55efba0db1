"""A token's `last_used_at`, kept on the side: never in a request's way.

Writing it inside the request made the request wait for the database's write
lock: while another process held SQLite's lock for half a minute, a download
with a token waited 30 s and failed with a 503, for bookkeeping. Here a request
only notes the use in memory; one thread per process writes what was noted,
and waits for locks itself. If the write fails, it is dropped: the next use
notes it again. The time kept may lag, or be skipped; a request never waits.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from .models import ApiToken, db

log = logging.getLogger(__name__)
# A writer with nothing to write for this long ends.
IDLE_SECONDS = 60.0


class TokenUse:
    """Notes of token uses, written by a daemon thread that runs while there
    are notes (and a minute after the last)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.noted: dict[int, datetime] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.writer: threading.Thread | None = None

    def note(self, token_id: int, when: datetime) -> None:
        with self.lock:
            self.noted[token_id] = when
            if self.writer is None or not self.writer.is_alive():  # none yet, or forked
                self.writer = threading.Thread(target=self._write_noted, name="token-use")
                self.writer.daemon = True
                self.writer.start()
        self.wake.set()

    def _write_noted(self) -> None:
        while True:
            self.wake.wait(IDLE_SECONDS)
            with self.lock:
                noted, self.noted = self.noted, {}
                self.wake.clear()
                if not noted:  # idle: a later note starts another thread
                    self.writer = None
                    return
            self._write(noted)

    def _write(self, noted: dict[int, datetime]) -> None:
        with self.app.app_context():
            try:
                for token_id, when in noted.items():
                    db.session.execute(
                        update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when)
                    )
                db.session.commit()
            except SQLAlchemyError as error:
                db.session.rollback()
                log.info("token last use not recorded (%d token(s)): %s", len(noted), error)
            finally:
                db.session.remove()


def init_app(app: Flask) -> None:
    app.extensions["image_repo.token_use"] = TokenUse(app)
