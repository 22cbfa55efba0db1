"""More than one machine: two server processes ("nodes") with INSTANCE_PATHs of
their own, sharing only the MySQL database and the bucket (moto's S3 server
over HTTP), and a Celery worker with its own INSTANCE_PATH through Redis.

Whatever one node does, the other sees at once; concurrent uploads of one
picture on both store it once; a node killed mid-burst loses nothing it
acknowledged. MySQL only: SQLite is one machine's file.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support import jpeg, png
from tcp_proxy import TcpProxy
from test_celery import broker, celery_worker  # noqa: F401 - fixtures

from image_repo import maintenance

# Claims of a node that died expire this soon here (STORE_LEASE), so that
# recovery can be seen within the test.
LEASE = "4"


@pytest.fixture(autouse=True)
def mysql_only(request):
    if request.config.getoption("--db") != "mysql":
        pytest.skip("nodes share a MySQL database; SQLite is one machine's file")


@pytest.fixture
def nodes(live_server, s3_bucket):
    """`nodes(n, **env)`: n servers on the test's database and bucket."""

    def start(count: int = 2, **env: str) -> list:
        return [
            live_server(
                FILE_STORAGE_LOCATION=s3_bucket.location,
                STORE_LEASE=LEASE,
                WEB_CONCURRENCY="2",
                **env,
            )
            for _ in range(count)
        ]

    return start


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(node, token: str, data: bytes, name: str = "photo.jpg") -> requests.Response:
    return requests.post(
        f"{node.url}/image/upload",
        files={"image": (name, data, "image/jpeg")},
        headers=auth(token),
        timeout=60,
    )


def test_what_one_node_stores_another_serves(nodes, token, s3_bucket):
    a, b = nodes()
    data = jpeg(seed=1, size=(640, 480))
    stored = post(a, token, data, "harbour.jpg")
    assert stored.status_code == 201
    image_url = f"{b.url}/image/{stored.json()['id']}"

    whole = requests.get(image_url, timeout=30)
    ranged = requests.get(image_url, headers={"Range": "bytes=10-109"}, timeout=30)
    thumbnail = requests.get(f"{image_url}/thumbnail?size=128", timeout=30)
    details = requests.get(f"{image_url}/details", timeout=30).json()

    assert whole.content == data
    assert whole.headers["Content-Disposition"] == "inline; filename=harbour.jpg"
    assert (ranged.status_code, ranged.content) == (206, data[10:110])
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    assert (details["width"], details["height"], details["original_name"]) == (
        640,
        480,
        "harbour.jpg",
    )
    assert a.env["INSTANCE_PATH"] != b.env["INSTANCE_PATH"]
    assert len(s3_bucket.listing("thumbnails/")) == 2  # 256 at upload, 128 made on B


def test_one_picture_uploaded_twelve_times_at_once_on_two_nodes_is_stored_once(
    nodes, token, s3_bucket, query
):
    a, b = nodes()
    data = jpeg(seed=2, size=(1200, 900))

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda n: post((a, b)[n % 2], token, data), range(12)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 11 + [201], [answer.text for answer in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert query("SELECT COUNT(*) FROM pictures") == [(1,)]
    assert query("SELECT COUNT(*) FROM images") == [(1,)]
    assert len(s3_bucket.listing("originals/")) == 1


def test_a_delete_on_one_node_is_gone_on_the_other_and_from_the_bucket(nodes, token, s3_bucket):
    a, b = nodes()
    image_id = post(a, token, png(seed=3, size=(300, 300))).json()["id"]
    requests.get(f"{a.url}/image/{image_id}/thumbnail?size=64", timeout=30)

    deleted = requests.delete(f"{b.url}/image/{image_id}", headers=auth(token), timeout=30)

    assert deleted.status_code == 204
    assert requests.get(f"{a.url}/image/{image_id}", timeout=30).status_code == 404
    assert requests.get(f"{a.url}/image/{image_id}/thumbnail", timeout=30).status_code == 404
    assert s3_bucket.listing() == ["repository.json"]


def test_a_node_killed_mid_burst_loses_nothing_it_acknowledged(nodes, token, s3_bucket, make_app):
    a, b = nodes()
    acknowledged: dict[int, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        seed = 1000 * (number + 1)
        while not stop.is_set():
            seed += 1
            data = jpeg(seed=seed, size=(320, 240), quality=95)
            try:
                response = post(a, token, data)
            except requests.RequestException:
                continue  # node A died under us: not acknowledged
            if response.status_code in (200, 201):
                with lock:
                    acknowledged[response.json()["id"]] = data

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(random.Random(13).uniform(1.5, 2.5))
        a.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert len(acknowledged) >= 4  # the burst was under way
    for image_id, data in acknowledged.items():
        response = requests.get(f"{b.url}/image/{image_id}", timeout=30)
        assert response.status_code == 200, image_id
        assert response.content == data
    app = make_app(FILE_STORAGE_LOCATION=s3_bucket.location, STORE_LEASE=float(LEASE))
    time.sleep(float(LEASE))  # the dead node's claims expire
    with app.app_context():
        maintenance.recover()
    fsck = app.test_cli_runner().invoke(args=["images", "fsck"])
    assert fsck.exit_code == 0, fsck.output
    assert "no problems" in fsck.output.lower()


def test_a_job_posted_on_one_node_runs_on_a_worker_and_any_node_serves_it(
    nodes,
    token,
    s3_bucket,
    broker,  # noqa: F811 - the fixture imported above
    celery_worker,  # noqa: F811
    tmp_path,
):
    a, b = nodes(**broker)
    worker = celery_worker(
        FILE_STORAGE_LOCATION=s3_bucket.location, INSTANCE_PATH=str(tmp_path / "worker")
    )

    posted = requests.post(
        f"{a.url}/image/generate", json={"prompt": "a lighthouse"}, headers=auth(token), timeout=30
    )
    assert posted.status_code == 202, posted.text
    job = requests.get(
        f"{b.url}{posted.headers['Location']}?wait=30", headers=auth(token), timeout=60
    ).json()

    assert job["status"] == "succeeded", job
    picture = requests.get(f"{b.url}{job['image_url']}", timeout=30)
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/png"
    assert f"image_repo.generate[{job['id']}] succeeded" in worker.log.read_text()
    assert len(s3_bucket.listing("originals/")) == 1


def test_both_nodes_ride_out_the_bucket_going_away(nodes, token, s3_bucket):
    proxy = TcpProxy(("127.0.0.1", s3_bucket.server.port))
    try:
        a, b = nodes(AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}")
        image_id = post(a, token, jpeg(seed=4)).json()["id"]

        proxy.cut()
        while_down = [
            requests.get(f"{node.url}/image/{image_id}", timeout=60).status_code for node in (a, b)
        ]
        upload_while_down = post(b, token, jpeg(seed=5)).status_code
        health = [requests.get(f"{node.url}/health", timeout=60) for node in (a, b)]
        proxy.restore()

        assert while_down == [503, 503]
        assert upload_while_down in (503, 507)
        assert [answer.status_code for answer in health] == [503, 503]
        assert all(s3_bucket.location in answer.json()["storage"]["detail"] for answer in health)
        assert post(b, token, jpeg(seed=5)).status_code == 201
        assert [
            requests.get(f"{node.url}/image/{image_id}", timeout=60).status_code for node in (a, b)
        ] == [200, 200]
    finally:
        proxy.cut()
