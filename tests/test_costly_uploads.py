"""What one client can make the server do with uploads is bounded.

Known bytes cost no decode; the pixels decoded for one request have a budget;
each user has an upload rate.
"""

from __future__ import annotations

import io

from conftest import authenticated
from support import assert_problem, jpeg, png, upload

from image_repo import imaging


def never_decode(*_args, **_kwargs):
    raise AssertionError("decoded bytes that were already stored")


def test_bytes_already_stored_are_answered_without_decoding(app, client, make_user, monkeypatch):
    data = jpeg(seed=1, size=(640, 480))
    first = upload(client, data).get_json()
    bob = authenticated(app.test_client(), make_user("bob"))
    monkeypatch.setattr(imaging, "decode", never_decode)

    again = upload(client, data)
    bobs = upload(bob, data, "bobs.jpg")

    assert (again.status_code, again.get_json()["id"]) == (200, first["id"])
    assert bobs.status_code == 201
    assert bobs.get_json()["sha512"] == first["sha512"]
    assert bobs.get_json()["original_name"] == "bobs.jpg"


def test_thirty_two_copies_of_a_stored_picture_decode_nothing(client, monkeypatch):
    data = png(seed=2, size=(300, 200))
    upload(client, data)
    monkeypatch.setattr(imaging, "decode", never_decode)
    files = [(io.BytesIO(data), f"copy-{n}.png") for n in range(32)]

    response = client.post("/image/upload", data={"image": files})

    assert response.status_code == 207
    assert {item["status"] for item in response.get_json()} == {200}


def test_a_request_has_a_pixel_budget(make_client):
    client = make_client(MAX_REQUEST_PIXELS=100_000)
    files = [(io.BytesIO(jpeg(seed=n, size=(200, 200))), f"{n}.jpg") for n in range(4)]

    response = client.post("/image/upload", data={"image": files})

    assert response.status_code == 207
    results = response.get_json()
    assert [item["status"] for item in results] == [201, 201, 413, 413]
    assert "budget" in results[2]["problem"]["detail"]
    # a new request has a budget of its own
    assert upload(client, jpeg(seed=9, size=(200, 200))).status_code == 201


def test_a_user_past_the_upload_rate_gets_429_with_retry_after(make_client, query):
    client = make_client(UPLOAD_RATE_LIMIT="3/minute")

    answers = [upload(client, jpeg(seed=n)) for n in range(4)]

    assert [r.status_code for r in answers[:3]] == [201, 201, 201]
    refused = assert_problem(answers[3], 429, detail_has="upload")
    assert int(answers[3].headers["Retry-After"]) > 0
    assert refused["status"] == 429
    assert query("SELECT COUNT(*) FROM images") == [(3,)]


def test_the_upload_rate_counts_files(make_client):
    client = make_client(UPLOAD_RATE_LIMIT="3/minute")
    files = [(io.BytesIO(jpeg(seed=n)), f"{n}.jpg") for n in range(2)]
    assert client.post("/image/upload", data={"image": files}).status_code == 207

    too_many = [(io.BytesIO(jpeg(seed=10 + n)), f"{n}.jpg") for n in range(2)]

    assert_problem(client.post("/image/upload", data={"image": too_many}), 429)
