"""The object store going away: a TCP proxy between a real server and the S3
server is cut (moto keeps its objects) and restored. While it is down, every
request that needs the store fails within seconds with a clear 5xx, and
/health names the store; once it is back, the same server serves again."""

from __future__ import annotations

import time

import pytest
import requests
from support import PROBLEM_JSON, jpeg, upload
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

# Connect, attempts and backoff (S3_* defaults) with room for a busy machine.
WITHIN_SECONDS = 10


@pytest.fixture
def s3_proxy(s3_bucket, monkeypatch):
    """A proxy in front of the S3 server, which this process's apps reach it through."""
    proxy = TcpProxy(("127.0.0.1", s3_bucket.server.port))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
    yield proxy
    proxy.cut()


def post(server, token: str, data: bytes) -> requests.Response:
    return requests.post(
        f"{server.url}/image/upload",
        files={"image": ("photo.jpg", data, "image/jpeg")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def timed(call) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_store_that_goes_away_is_a_quick_clear_5xx_and_service_resumes(
    live_server, s3_bucket, s3_proxy, token
):
    server = live_server(
        FILE_STORAGE_LOCATION=s3_bucket.location,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{s3_proxy.port}",
    )
    stored = post(server, token, jpeg(seed=1, size=(300, 200))).json()
    image_url = f"{server.url}/image/{stored['id']}"
    waiting = jpeg(seed=2, size=(300, 200))

    s3_proxy.cut()

    uploaded, upload_took = timed(lambda: post(server, token, waiting))
    downloaded, download_took = timed(lambda: requests.get(image_url, timeout=60))
    thumbnail, _ = timed(lambda: requests.get(f"{image_url}/thumbnail?size=512", timeout=60))
    health, health_took = timed(lambda: requests.get(f"{server.url}/health", timeout=60))

    assert uploaded.status_code in (503, 507), uploaded.text
    assert uploaded.headers["Content-Type"] == PROBLEM_JSON
    assert uploaded.headers["Retry-After"]
    assert "storage" in uploaded.json()["detail"]
    assert downloaded.status_code in (502, 503, 504), downloaded.text
    assert downloaded.headers["Content-Type"] == PROBLEM_JSON
    assert thumbnail.status_code in (502, 503, 504), thumbnail.text
    assert max(upload_took, download_took, health_took) < WITHIN_SECONDS
    assert health.status_code == 503
    report = health.json()
    assert report["database"]["status"] == "ok"
    assert report["storage"]["status"] == "unavailable"
    assert report["storage"]["detail"].startswith(s3_bucket.location)

    s3_proxy.restore()

    assert requests.get(f"{server.url}/health", timeout=60).status_code == 200
    assert requests.get(image_url, timeout=60).status_code == 200
    again = post(server, token, waiting)  # the very upload that failed
    assert again.status_code == 201, again.text
    assert requests.get(f"{server.url}/image/{again.json()['id']}", timeout=60).content == waiting


def test_a_store_that_hangs_is_given_up_on_within_its_timeouts(make_client, s3_bucket, s3_proxy):
    """A bucket that takes connections and never answers: the read timeout and
    the bounded attempts end each request, not the client's patience."""
    client = make_client(
        FILE_STORAGE_LOCATION=s3_bucket.location,
        S3_CONNECT_TIMEOUT=1.0,
        S3_READ_TIMEOUT=1.0,
        S3_MAX_ATTEMPTS=2,
    )
    stored = upload(client, jpeg(seed=3)).get_json()
    waiting = jpeg(seed=4)

    s3_proxy.stall()
    uploaded, upload_took = timed(lambda: upload(client, waiting))
    downloaded, download_took = timed(lambda: client.get(f"/image/{stored['id']}"))
    health = client.get("/health")
    s3_proxy.restore()

    assert uploaded.status_code in (503, 507)
    assert "did not answer in time" in uploaded.get_json()["detail"]
    assert downloaded.status_code == 503
    assert max(upload_took, download_took) < WITHIN_SECONDS
    assert health.status_code == 503
    assert client.get("/health").status_code == 200
    assert upload(client, waiting).status_code == 201
