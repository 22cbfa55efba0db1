"""A token's `last_used_at` is bookkeeping: it never delays or fails a read.

Another process holds the database's write lock (SQLite) or a lock on the
token's own row (MySQL) while a token, not used for over a minute, reads an
image: the read is answered at once, and the use is recorded once the lock goes.
"""

from __future__ import annotations

import time

from support import jpeg, lock_held_elsewhere, upload

from image_repo.models import ApiToken

PROMPT_SECONDS = 0.5


def last_used(query) -> object:
    [(value,)] = query("SELECT last_used_at FROM api_tokens")
    return value


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def test_a_locked_database_does_not_delay_a_read_with_a_token(client, query, migrated_database):
    image = upload(client, jpeg()).get_json()
    wait_for(lambda: last_used(query) is not None)  # the upload's use, written on the side
    query("UPDATE api_tokens SET last_used_at = NULL")  # as if not used for a while

    with lock_held_elsewhere(migrated_database, ApiToken.__table__):
        started = time.monotonic()
        response = client.get(f"/image/{image['id']}")
        took = time.monotonic() - started
        assert last_used(query) is None

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.data == jpeg()
    assert took < PROMPT_SECONDS, f"the read waited {took:.2f} s for bookkeeping"
    wait_for(lambda: last_used(query) is not None)  # recorded once the lock went
