"""Webhooks: signed per Standard Webhooks, delivered off the request path, retried,
recorded, and verified here by the `standardwebhooks` library on a real receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from fake_gemini import API_KEY, safety_block
from sqlalchemy import select
from support import ended_job, generate, jpeg, upload
from webhook_receiver import SECRET, Receiver

from image_repo import create_app
from image_repo.models import db
from image_repo.webhooks.models import WebhookDelivery


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


@pytest.fixture
def receiver(receivers) -> Receiver:
    receivers.append(Receiver().start())
    return receivers[-1]


def hooked(receiver: Receiver, **settings) -> dict:
    """Settings for an app in this process."""
    return {"WEBHOOK_URLS": [receiver.url], "WEBHOOK_SECRET": SECRET, **settings}


def hooked_env(receiver: Receiver, **env: str) -> dict[str, str]:
    """The same, as the environment of a server."""
    return {"WEBHOOK_URLS": receiver.url, "WEBHOOK_SECRET": SECRET, **env}


def test_upload_and_delete_are_told_to_the_receiver(make_client, receiver):
    client = make_client(**hooked(receiver))
    created = upload(client, jpeg(seed=501), "harbour.jpg")
    assert created.status_code == 201
    record = created.get_json()
    assert upload(client, jpeg(seed=501)).status_code == 200  # a duplicate is no new image

    [event] = receiver.events(1)
    assert event["type"] == "image.created"
    assert event["data"]["id"] == record["id"]
    assert event["data"]["original_name"] == "harbour.jpg"
    assert event["data"]["sha512"] == record["sha512"]
    assert event["timestamp"]
    headers = receiver.received[0].headers
    assert headers["webhook-id"].startswith("msg_")
    assert headers["webhook-signature"].startswith("v1,")

    assert client.delete(f"/image/{record['id']}").status_code == 204
    deleted = receiver.events(2)[1]
    assert deleted["type"] == "image.deleted"
    assert deleted["data"] == {"id": record["id"], "sha512": record["sha512"]}
    time.sleep(0.3)
    assert len(receiver.received) == 2


def test_a_wrong_secret_fails_verification(make_client, receiver):
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    upload(make_client(**hooked(receiver)), jpeg(seed=502))
    receiver.events(1)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(receiver.received[0].body, receiver.received[0].headers)


def test_job_success_is_told_with_the_job(make_client, receiver, query):
    client = make_client(**hooked(receiver))
    submitted = client.post(
        "/image/generate", json={"prompt": "a lighthouse"}, headers={"X-Request-ID": "job-7"}
    )
    job = ended_job(client, submitted.headers["Location"])
    assert job["status"] == "succeeded"
    events = {event["type"]: event for event in receiver.events(2)}
    assert set(events) == {"image.created", "job.succeeded"}
    assert events["job.succeeded"]["data"]["id"] == job["id"]
    assert events["job.succeeded"]["data"]["image_id"] == job["image_id"]
    assert events["job.succeeded"]["data"]["url"] == f"/image/jobs/{job['id']}"
    assert events["image.created"]["data"]["source"] == "generated"
    assert events["image.created"]["data"]["url"] == f"/image/{job['image_id']}"
    # Both were caused by the request that submitted the job.
    assert sorted(query("SELECT event_type, request_id FROM webhook_deliveries")) == [
        ("image.created", "job-7"),
        ("job.succeeded", "job-7"),
    ]


def test_job_failure_is_told_with_its_error(make_client, receiver, fake_gemini):
    fake_gemini.script(safety_block())
    client = make_client(
        **hooked(receiver),
        GEMINI_API_KEY=API_KEY,
        GEMINI_BASE_URL=fake_gemini.url,
        GENERATION_BACKEND="gemini",
    )
    job = ended_job(client, generate(client, prompt="something blocked").headers["Location"])
    assert job["status"] == "failed"
    [event] = receiver.events(1)
    assert event["type"] == "job.failed"
    assert event["data"]["id"] == job["id"]
    assert event["data"]["error"]["code"] == "safety_block"


def test_every_receiver_gets_every_event(make_client, receivers):
    receivers.extend([Receiver().start(), Receiver().start()])
    client = make_client(
        WEBHOOK_URLS=[receiver.url for receiver in receivers], WEBHOOK_SECRET=SECRET
    )
    upload(client, jpeg(seed=503))
    first, second = (receiver.events(1)[0] for receiver in receivers)
    assert first == second
    assert (
        receivers[0].received[0].headers["webhook-id"]
        == (receivers[1].received[0].headers["webhook-id"])
    )


def test_a_receiver_that_is_down_then_up_gets_the_event(make_client, receivers, query):
    down = Receiver()  # its port is closed until start()
    receivers.append(down)
    client = make_client(**hooked(down, WEBHOOK_RETRY_DELAY=0.2, WEBHOOK_RETRY_FOR=60))
    record = upload(client, jpeg(seed=504)).get_json()

    deadline = time.monotonic() + 10
    while not query("SELECT attempts FROM webhook_deliveries WHERE attempts >= 2"):
        assert time.monotonic() < deadline, "no retry was made"
        time.sleep(0.05)
    [(status, error)] = query("SELECT status, last_error FROM webhook_deliveries")
    assert status == "pending"
    assert "ConnectionError" in error

    down.start()
    [event] = down.events(1)
    assert event["data"]["id"] == record["id"]
    deadline = time.monotonic() + 5
    while query("SELECT status FROM webhook_deliveries") != [("delivered",)]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [(attempts, code)] = query("SELECT attempts, last_status_code FROM webhook_deliveries")
    assert attempts >= 3
    assert code == 204


def test_retries_back_off_and_end_within_the_time_allowed(app, make_client, receivers, query):
    broken = Receiver(statuses=(500,)).start()
    receivers.append(broken)
    client = make_client(**hooked(broken, WEBHOOK_RETRY_DELAY=0.1, WEBHOOK_RETRY_FOR=1.2))
    upload(client, jpeg(seed=505))

    deadline = time.monotonic() + 10
    while query("SELECT status FROM webhook_deliveries") != [("failed",)]:
        assert time.monotonic() < deadline, "the delivery was never given up"
        time.sleep(0.05)
    with app.app_context():
        [delivery] = db.session.scalars(select(WebhookDelivery)).all()
    # 0.1 + 0.2 + 0.4 s of waits fit in 1.2 s; a fifth attempt (after 0.8 s more) would not
    assert delivery.attempts == 4 == broken.attempts
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"
    assert (delivery.finished_at - delivery.created_at).total_seconds() < 1.2


def test_a_hanging_receiver_never_slows_uploads(live_server, receivers, token):
    hanging = Receiver(hang=8).start()
    receivers.append(hanging)
    server = live_server(**hooked_env(hanging, WEBHOOK_TIMEOUT="20", WEBHOOK_THREADS="1"))

    def timed_upload(seed: int) -> float:
        started = time.monotonic()
        response = requests.post(
            f"{server.url}/image/upload",
            files={"image": ("p.jpg", jpeg(seed=seed))},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201
        return time.monotonic() - started

    with ThreadPoolExecutor(4) as pool:
        times = list(pool.map(timed_upload, range(600, 608)))
    # Each receiver call takes 8 s and one thread per process makes them:
    # had any upload waited for one, it would have taken 8 s or more.
    assert max(times) < 4, times
    assert hanging.received == []


def test_delivery_log_lines_carry_the_request_id(live_server, receiver, token, tmp_path):
    server = live_server(**hooked_env(receiver, LOG_FORMAT="json"))
    response = requests.post(
        f"{server.url}/image/upload",
        files={"image": ("p.jpg", jpeg(seed=506))},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "upload-then-tell"},
    )
    assert response.status_code == 201
    receiver.events(1)
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()]
        delivered = [line for line in lines if line.get("logger") == "image_repo.webhooks.delivery"]
        if delivered or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    [line] = delivered
    assert line["request_id"] == "upload-then-tell"
    assert line["url"] == receiver.url
    assert "image.created" in line["message"]


def test_admins_list_the_deliveries(make_app, receivers):
    good, bad = Receiver().start(), Receiver(statuses=(410,)).start()
    receivers.extend([good, bad])
    app = make_app(
        WEBHOOK_URLS=[good.url, bad.url],
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_RETRY_DELAY=0.1,
        WEBHOOK_RETRY_FOR=0.15,
    )
    from image_repo import accounts

    with app.app_context():
        _, secret = accounts.create_user("boss", admin=True)
    client = app.test_client()
    upload(client, jpeg(seed=507), headers={"Authorization": f"Bearer {secret}"})
    good.events(1)
    runner = app.test_cli_runner()
    deadline = time.monotonic() + 10
    while "failed" not in (listing := runner.invoke(args=["webhooks", "list"]).output):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    lines = listing.splitlines()
    assert "event" in lines[0] and "status" in lines[0]
    [ok] = [line for line in lines if good.url in line]
    assert "image.created" in ok and "delivered" in ok and "204" in ok
    [refused] = [line for line in lines if bad.url in line]
    assert "failed" in refused and "410" in refused
    only_failed = runner.invoke(args=["webhooks", "list", "--status", "failed"]).output
    assert bad.url in only_failed and good.url not in only_failed


def test_webhook_settings_are_checked_at_start(tmp_path):
    base = {"FILE_STORAGE_LOCATION": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        create_app({**base, "WEBHOOK_URLS": ["http://127.0.0.1:9/"], "WEBHOOK_SECRET": "whsec_!!"})
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        create_app({**base, "WEBHOOK_URLS": ["http://127.0.0.1:9/"]})
    with pytest.raises(ValueError, match="ftp://example"):
        create_app({**base, "WEBHOOK_URLS": ["ftp://example.com/"], "WEBHOOK_SECRET": SECRET})
