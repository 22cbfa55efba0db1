"""Pictures and records: a picture is stored once, every owner has a record of their own.

A record (an image id, an owner, a name, an upload time) is what a user
uploads, lists and deletes; the picture (pixels, file, thumbnails) is shared
by every record of it and goes with the last one.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import pytest
import requests
from conftest import authenticated
from sqlalchemy import select, text
from support import assert_problem, jpeg, originals, png, stored_files, upload

from image_repo import ingest, pictures
from image_repo.models import Picture, db

T = TypeVar("T")


def as_user(app, token: str):
    return authenticated(app.test_client(), token)


def race(*calls: Callable[[], T]) -> list[T]:
    """Run the calls at once (released together); their results, in order."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call: Callable[[], T]) -> None:
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def owned_ids(client) -> list[int]:
    response = client.get("/image/list?owner=me")
    assert response.status_code == 200
    return [item["id"] for item in response.get_json()["items"]]


def test_another_users_delete_does_not_take_your_upload(app, client, make_user, storage_dir):
    """alice uploads a picture; bob uploads the same one under his own name;
    alice deletes hers: bob's record, and its bytes, stay."""
    bob = as_user(app, make_user("bob"))
    data = png(seed=7)

    alices = upload(client, data, "shared.png")
    bobs = upload(bob, data, "bobs-holiday.png")

    assert alices.status_code == 201
    assert bobs.status_code == 201, "bob did not have this picture: a new record of his own"
    alice_record, bob_record = alices.get_json(), bobs.get_json()
    assert bob_record["id"] != alice_record["id"]
    assert bob_record["owner"] == "bob"
    assert bob_record["original_name"] == "bobs-holiday.png"
    assert bob_record["duplicate"] is False
    assert bob_record["sha512"] == alice_record["sha512"]
    assert bobs.headers["Location"] == f"/image/{bob_record['id']}"
    assert len(originals(storage_dir)) == 1, "the picture is stored once"

    assert client.delete(f"/image/{alice_record['id']}").status_code == 204

    assert_problem(bob.get(f"/image/{alice_record['id']}"), 404)
    download = bob.get(f"/image/{bob_record['id']}")
    assert download.status_code == 200
    assert download.data == data
    assert owned_ids(bob) == [bob_record["id"]]
    assert owned_ids(client) == []
    assert bob.get(f"/image/{bob_record['id']}/thumbnail?size=64").status_code == 200


def test_the_files_go_with_the_last_record(app, client, make_user, storage_dir):
    bob = as_user(app, make_user("bob"))
    data = jpeg(seed=3)
    alice_id = upload(client, data).get_json()["id"]
    bob_id = upload(bob, data).get_json()["id"]
    assert client.get(f"/image/{alice_id}/thumbnail?size=128").status_code == 200

    assert client.delete(f"/image/{alice_id}").status_code == 204
    assert len(originals(storage_dir)) == 1
    assert bob.delete(f"/image/{bob_id}").status_code == 204

    assert stored_files(storage_dir) == []


def test_the_same_owner_uploading_again_gets_their_record(client, query):
    data = jpeg(seed=4)
    first = upload(client, data, "a.jpg")

    again = upload(client, data, "renamed.jpg")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["duplicate"] is True
    assert again.get_json()["original_name"] == "a.jpg"
    assert query("SELECT COUNT(*) FROM images") == [(1,)]


def test_a_delete_between_an_uploads_commit_and_its_answer(app, client, monkeypatch):
    """The owner deletes their record just after sending the same picture again
    commits, before the answer is written: the upload still answers with the
    record as it was committed (it happened first), never a 500."""
    data = jpeg(seed=14)
    image_id = upload(client, data).get_json()["id"]
    real_ingest = ingest.ingest

    def then_deleted_elsewhere(*args, **kwargs):
        result = real_ingest(*args, **kwargs)
        other = threading.Thread(target=lambda: client.delete(f"/image/{image_id}"))
        other.start()
        other.join()
        return result

    monkeypatch.setattr(ingest, "ingest", then_deleted_elsewhere)
    again = upload(client, data, "again.jpg")

    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json()["id"] == image_id
    assert again.get_json()["duplicate"] is True
    assert_problem(client.get(f"/image/{image_id}"), 404)


def test_ownerless_uploads_dedupe_among_ownerless_records(make_app, token):
    app = make_app(ALLOW_ANONYMOUS_UPLOAD=True)
    anonymous = app.test_client()
    alice = authenticated(app.test_client(), token)
    data = jpeg(seed=5)

    first = upload(anonymous, data)
    again = upload(anonymous, data)
    alices = upload(alice, data)

    assert (first.status_code, again.status_code, alices.status_code) == (201, 200, 201)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert first.get_json()["owner"] is None
    assert alices.get_json()["owner"] == "alice"


def test_a_stranger_still_cannot_delete_your_record(app, client, make_user):
    bob = as_user(app, make_user("bob"))
    data = jpeg(seed=6)
    alice_id = upload(client, data).get_json()["id"]
    upload(bob, data)

    assert_problem(bob.delete(f"/image/{alice_id}"), 403)
    assert client.get(f"/image/{alice_id}").status_code == 200


def test_details_and_lists_are_per_record(app, client, make_user):
    bob = as_user(app, make_user("bob"))
    data = png(seed=8)
    alice_id = upload(client, data, "mine.png").get_json()["id"]
    bob_id = upload(bob, data, "his.png").get_json()["id"]

    alice_details = client.get(f"/image/{alice_id}/details").get_json()
    bob_details = client.get(f"/image/{bob_id}/details").get_json()
    listed = client.get("/image/list?name=.png").get_json()["items"]

    assert (alice_details["owner"], alice_details["original_name"]) == ("alice", "mine.png")
    assert (bob_details["owner"], bob_details["original_name"]) == ("bob", "his.png")
    assert sorted(item["id"] for item in listed) == sorted([alice_id, bob_id])
    assert client.get("/image/list?owner=bob").get_json()["items"][0]["id"] == bob_id


def test_racing_uploads_and_deletes_never_lose_an_acknowledged_record(
    live_server, app, make_user, token
):
    """Thirty rounds: alice deletes her record of a picture while bob uploads
    the same picture. Whoever wins, bob's acknowledged record downloads byte
    for byte afterwards, and it is never alice's record."""
    server = live_server()
    alice = {"Authorization": f"Bearer {token}"}
    bob = {"Authorization": f"Bearer {make_user('bob')}"}

    def post(headers: dict, data: bytes) -> requests.Response:
        files = {"image": ("p.jpg", data, "image/jpeg")}
        return requests.post(f"{server.url}/image/upload", files=files, headers=headers, timeout=30)

    acknowledged: dict[int, bytes] = {}
    for round_no in range(30):
        data = jpeg(seed=1000 + round_no, size=(320, 240))
        alice_id = post(alice, data).json()["id"]

        deleted, uploaded = race(
            partial(requests.delete, f"{server.url}/image/{alice_id}", headers=alice, timeout=30),
            partial(post, bob, data),
        )

        assert deleted.status_code == 204
        assert uploaded.status_code == 201, uploaded.text
        bob_id = uploaded.json()["id"]
        assert bob_id != alice_id
        acknowledged[bob_id] = data

    for image_id, data in acknowledged.items():
        response = requests.get(f"{server.url}/image/{image_id}", timeout=30)
        assert response.status_code == 200, image_id
        assert response.content == data
    fsck = app.test_cli_runner().invoke(args=["images", "fsck"])
    assert fsck.exit_code == 0, fsck.output


def test_locking_a_picture_never_deadlocks_with_the_end_of_its_delete(app):
    """The end of a delete removes the picture's row while an upload of the
    same picture locks it. Both must take the row's locks in one order, or
    MySQL fails one of them as a deadlock (a 503 for the uploader; seen under
    load). Forced here: both queue behind a third transaction holding the
    row, the delete first, then the third lets go."""
    with app.app_context():
        if db.engine.dialect.name != "mysql":
            pytest.skip("SQLite locks the whole database: there is no order of row locks")
        picture = Picture(sha512="ab" * 64, format="JPEG", width=1, height=1, file_size=1)
        held = pictures.claim_new(picture, pictures.DELETING)
        db.session.commit()

        def in_app(call: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                with app.app_context():
                    call()

            return run

        def lock() -> None:
            with pictures.locked(held.sha512):
                pass

        with db.engine.connect() as holder, ThreadPoolExecutor(2) as pool:
            holder.execute(
                select(Picture.id).where(Picture.id == held.picture_id).with_for_update()
            )
            delete_end = pool.submit(in_app(partial(pictures.release, held, back_to=None)))
            wait_for_lock_waits(1)
            upload_lock = pool.submit(in_app(lock))
            wait_for_lock_waits(2)
            holder.commit()

            delete_end.result(timeout=30)
            upload_lock.result(timeout=30)
        assert db.session.scalar(select(Picture.id).where(Picture.sha512 == held.sha512)) is None


def wait_for_lock_waits(count: int) -> None:
    """Until `count` statements on this test's MySQL database wait for row locks."""
    waiting = text(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE()"
        " AND ID != CONNECTION_ID() AND COMMAND = 'Query' AND STATE = 'Updating'"
    )
    deadline = time.monotonic() + 10
    with db.engine.connect() as watcher:
        while watcher.scalar(waiting) < count:
            assert time.monotonic() < deadline, f"never {count} waiting for a lock"
            time.sleep(0.01)


def test_a_new_uploads_record_holds_its_picture_as_stored(app):
    """What the upload answers with (and webhooks send) is the picture as
    committed: stored, its claim given back, not the claim's row as loaded."""
    with app.app_context():
        result = ingest.ingest(io.BytesIO(jpeg(seed=31)), "a.jpg", owner=None)
        picture = result.image.picture

        assert (picture.state, picture.claim) == (pictures.STORED, None)
        db.session.refresh(picture)
        assert (picture.state, picture.claim) == (pictures.STORED, None)
