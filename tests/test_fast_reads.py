"""Stored files answered before Flask (image_repo.fast_reads): thumbnails
already made and originals get the same answer as from their routes, and
everything else is passed on to them."""

from __future__ import annotations

import pytest
from flask import request
from support import jpeg, png, upload
from werkzeug.test import Client

from image_repo.fast_reads import FastReads

BROWSER = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"
# What only the server can know, or differs between any two answers.
PER_ANSWER = {"X-Request-ID", "Date"}


@pytest.fixture
def seen_by_flask(app) -> list[str]:
    return endpoints_reaching_flask(app)


def endpoints_reaching_flask(app) -> list[str]:
    """The endpoints of the requests that reach `app`'s Flask from now on."""
    reached: list[str] = []
    app.before_request(lambda: reached.append(request.endpoint))
    return reached


def stored(client, data: bytes, name: str = "photo.jpg") -> dict:
    response = upload(client, data, name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def thumbnail_url(record: dict) -> str:
    return f"/image/{record['id']}/thumbnail"


def flask_only(app) -> Client:
    """A client of the app behind the layer: the route's own answers."""
    layer = app.wsgi_app
    assert isinstance(layer, FastReads)
    return Client(layer.application)


def headers_of(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in PER_ANSWER}


def test_a_cached_thumbnail_never_reaches_flask(client, anonymous, seen_by_flask):
    record = stored(client, jpeg(size=(600, 400)))
    seen_by_flask.clear()

    response = anonymous.get(thumbnail_url(record))

    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert seen_by_flask == []


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("", "*/*"),
        ("?size=256", "*/*"),
        ("?format=jpeg", BROWSER),
        ("?size=64&format=png", "*/*"),
        ("", BROWSER),  # negotiated: AVIF
        ("?size=1024", "image/webp"),
    ],
)
def test_the_answer_is_the_routes_own(app, client, anonymous, query, accept):
    record = stored(client, jpeg(size=(1200, 800)))
    url = thumbnail_url(record) + query
    made = anonymous.get(url, headers={"Accept": accept})  # made by the route, and kept
    assert made.status_code == 200

    ours = anonymous.get(url, headers={"Accept": accept})
    routes = flask_only(app).get(url, headers={"Accept": accept})

    assert ours.status_code == routes.status_code == 200
    assert ours.data == routes.data == made.data
    assert headers_of(ours) == headers_of(routes)
    assert ours.headers["X-Request-ID"]


def test_a_304_is_the_routes_own(app, client, anonymous):
    record = stored(client, jpeg(size=(600, 400)))
    etag = anonymous.get(thumbnail_url(record)).headers["ETag"]

    ours = anonymous.get(thumbnail_url(record), headers={"If-None-Match": etag})
    routes = flask_only(app).get(thumbnail_url(record), headers={"If-None-Match": etag})

    assert ours.status_code == routes.status_code == 304
    assert headers_of(ours) == headers_of(routes)


def test_a_picture_with_transparency_gets_its_png(client, anonymous, seen_by_flask):
    record = stored(client, png(size=(300, 200), mode="RGBA"), "clear.png")
    seen_by_flask.clear()

    response = anonymous.get(thumbnail_url(record))

    assert response.mimetype == "image/png"
    assert seen_by_flask == []


def test_a_current_copy_gets_304(client, anonymous, seen_by_flask):
    record = stored(client, jpeg(size=(600, 400)))
    first = anonymous.get(thumbnail_url(record))
    seen_by_flask.clear()

    again = anonymous.get(thumbnail_url(record), headers={"If-None-Match": first.headers["ETag"]})
    since = anonymous.get(
        thumbnail_url(record), headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    other = anonymous.get(thumbnail_url(record), headers={"If-None-Match": '"something-else"'})

    assert again.status_code == since.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert other.status_code == 200
    assert seen_by_flask == []


def test_the_request_is_counted_and_logged_with_its_id(client, anonymous, caplog):
    record = stored(client, jpeg(size=(600, 400)))
    metric = 'image_repo_http_request_duration_seconds_count{endpoint="images.thumbnail"'

    def served() -> float:
        lines = anonymous.get("/metrics").get_data(as_text=True).splitlines()
        found = [line for line in lines if line.startswith(metric) and 'status="200"' in line]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    before = served()
    caplog.clear()
    with caplog.at_level("INFO", logger="image_repo.access"):
        response = anonymous.get(thumbnail_url(record), headers={"X-Request-ID": "gallery-7"})
        lines = [r for r in caplog.records if r.name == "image_repo.access"]

    assert response.headers["X-Request-ID"] == "gallery-7"
    assert served() == before + 1
    assert [r.request_id for r in lines] == ["gallery-7"]
    assert f"GET /image/{record['id']}/thumbnail 200" in lines[0].getMessage()


def test_a_deleted_image_is_gone_at_once(client, anonymous):
    record = stored(client, jpeg(size=(600, 400)))
    assert anonymous.get(thumbnail_url(record)).status_code == 200

    assert client.delete(f"/image/{record['id']}").status_code == 204

    response = anonymous.get(thumbnail_url(record))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?size=300", {}, 400),  # the route says what is wrong
        ("?size=256&size=512", {}, 200),
        ("?format=gif", {}, 400),
        ("?format=jpg", {}, 200),  # another spelling: the route knows it
        ("?size=0256", {}, 200),
        ("?colour=red", {}, 200),  # the route ignores it
        ("", {"Range": "bytes=0-9"}, 206),
        ("", {"Authorization": "Bearer not-a-token"}, 401),
    ],
)
def test_anything_else_goes_to_the_route(client, anonymous, seen_by_flask, query, headers, status):
    record = stored(client, jpeg(size=(600, 400)))
    anonymous.get(thumbnail_url(record))  # made and kept
    seen_by_flask.clear()

    response = anonymous.get(thumbnail_url(record) + query, headers=headers)

    assert response.status_code == status
    assert seen_by_flask == ["images.thumbnail"]


def test_a_token_is_checked_by_the_route(client, seen_by_flask):
    record = stored(client, jpeg(size=(600, 400)))
    client.get(thumbnail_url(record))
    seen_by_flask.clear()

    assert client.get(thumbnail_url(record)).status_code == 200
    assert seen_by_flask == ["images.thumbnail"]


def test_a_thumbnail_not_made_yet_is_made_by_the_route(client, anonymous, seen_by_flask):
    record = stored(client, jpeg(size=(600, 400)))
    seen_by_flask.clear()

    first = anonymous.get(thumbnail_url(record) + "?size=128")
    second = anonymous.get(thumbnail_url(record) + "?size=128")

    assert first.status_code == second.status_code == 200
    assert first.data == second.data
    assert seen_by_flask == ["images.thumbnail"]


@pytest.mark.parametrize("image_id", ["0", "99999", "0012", "99999999999999999999999"])
def test_an_image_that_is_not_there_is_the_routes_404(anonymous, image_id):
    response = anonymous.get(f"/image/{image_id}/thumbnail")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_private_reads_need_the_route(make_app, make_user):
    app = make_app(PUBLIC_READ=False)
    reached = endpoints_reaching_flask(app)
    owner = app.test_client()
    owner.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_user('bob')}"
    record = stored(owner, jpeg(size=(600, 400)))
    owner.get(thumbnail_url(record))
    reached.clear()

    response = app.test_client().get(thumbnail_url(record))

    assert response.status_code == 401
    assert reached == ["images.thumbnail"]


def test_offloaded_files_go_to_the_route(make_app, token):
    app = make_app(FILE_OFFLOAD="x-accel-redirect")
    reached = endpoints_reaching_flask(app)
    owner = app.test_client()
    owner.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    record = stored(owner, jpeg(size=(600, 400)))
    reached.clear()

    response = app.test_client().get(thumbnail_url(record))

    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"]
    assert reached == ["images.thumbnail"]


@pytest.mark.parametrize("query", ["", "?download=1", "?download=true", "?download=0"])
@pytest.mark.parametrize("name", ["photo.jpg", "Café del Mar.jpeg", "poly.html"])
def test_an_original_is_the_routes_own(app, client, anonymous, seen_by_flask, query, name):
    data = jpeg(size=(600, 400))
    record = stored(client, data, name)
    url = f"/image/{record['id']}{query}"
    seen_by_flask.clear()

    ours = anonymous.get(url)
    assert seen_by_flask == []
    routes = flask_only(app).get(url)

    assert ours.status_code == routes.status_code == 200
    assert ours.data == routes.data == data
    assert headers_of(ours) == headers_of(routes)


def test_an_original_304_is_the_routes_own(app, client, anonymous):
    record = stored(client, jpeg(size=(600, 400)))
    etag = anonymous.get(f"/image/{record['id']}").headers["ETag"]

    ours = anonymous.get(f"/image/{record['id']}", headers={"If-None-Match": etag})
    routes = flask_only(app).get(f"/image/{record['id']}", headers={"If-None-Match": etag})

    assert ours.status_code == routes.status_code == 304
    assert headers_of(ours) == headers_of(routes)


def test_a_big_original_is_sent_whole(client, anonymous):
    data = png(size=(1500, 1000))  # noise: about 4.5 MB, sent in pieces
    record = stored(client, data, "big.png")

    response = anonymous.get(f"/image/{record['id']}")

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(data)
    assert response.data == data


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?download=yes", {}, 200),  # another spelling: the route knows it
        ("?download=1&download=0", {}, 200),
        ("?download=maybe", {}, 400),
        ("", {"Range": "bytes=0-9"}, 206),
        ("", {"Authorization": "Bearer not-a-token"}, 401),
    ],
)
def test_other_downloads_go_to_the_route(client, anonymous, seen_by_flask, query, headers, status):
    record = stored(client, jpeg(size=(600, 400)))
    seen_by_flask.clear()

    response = anonymous.get(f"/image/{record['id']}{query}", headers=headers)

    assert response.status_code == status
    assert seen_by_flask == ["images.download"]


def test_a_deleted_original_is_gone_at_once(client, anonymous):
    record = stored(client, jpeg(size=(600, 400)))
    assert anonymous.get(f"/image/{record['id']}").status_code == 200

    assert client.delete(f"/image/{record['id']}").status_code == 204

    response = anonymous.get(f"/image/{record['id']}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
