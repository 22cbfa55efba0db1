"""The gemini backend: the real google-genai SDK against a fake Gemini REST server."""

from __future__ import annotations

import io

import pytest
from fake_gemini import API_KEY, blocked_prompt, error, image, safety_block, text_only
from PIL import Image
from support import ended_job, generate, png

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems


@pytest.fixture
def gemini(make_client, fake_gemini):
    """A client on an app whose default backend is Gemini, served by the fake."""

    def build(**overrides):
        settings = {
            "GEMINI_API_KEY": API_KEY,
            "GEMINI_BASE_URL": fake_gemini.url,
            "GEMINI_ATTEMPTS": 3,
            "GEMINI_RETRY_DELAY": 0.01,
            "GEMINI_TIMEOUT": 5,
            "GENERATION_BACKEND": "gemini",
        }
        return make_client(**(settings | overrides))

    return build


def run(client, **body) -> dict:
    response = generate(client, **body)
    assert response.status_code == 202, response.get_data(as_text=True)
    return ended_job(client, response.location)


def test_the_picture_gemini_sends_is_stored(gemini, fake_gemini, query):
    picture = png(seed=5, size=(40, 30))
    fake_gemini.script(image(picture))

    job = run(gemini(), prompt="a lighthouse at dusk", style="watercolor", aspect_ratio="16:9")

    assert job["status"] == "succeeded", job
    assert (job["backend"], job["model"], job["notice"]) == (
        "gemini",
        "gemini-2.5-flash-image",
        None,
    )
    stored = Image.open(io.BytesIO(gemini().get(job["image_url"]).data))
    assert stored.tobytes() == Image.open(io.BytesIO(picture)).tobytes()
    assert query("SELECT source FROM images") == [("generated",)]
    [request] = fake_gemini.requests
    assert request.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert request.headers["x-goog-api-key"] == API_KEY
    assert request.body["contents"][0]["parts"] == [{"text": job["final_prompt"]}]
    assert request.body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert request.body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}


def test_the_model_can_be_chosen_per_request(gemini, fake_gemini):
    fake_gemini.script(image(png(seed=6)))

    job = run(gemini(), prompt="a red kite", model="gemini-3.1-flash-image")

    assert (job["status"], job["model"]) == ("succeeded", "gemini-3.1-flash-image")
    assert fake_gemini.requests[0].model == "gemini-3.1-flash-image"


@pytest.mark.parametrize(
    ("reply", "code", "detail"),
    [
        (safety_block("IMAGE_SAFETY"), "safety_block", "IMAGE_SAFETY"),
        (safety_block("IMAGE_PROHIBITED_CONTENT"), "safety_block", "IMAGE_PROHIBITED_CONTENT"),
        (blocked_prompt("PROHIBITED_CONTENT"), "prompt_blocked", "PROHIBITED_CONTENT"),
        (text_only("I can only describe a lighthouse."), "no_image", "only describe a lighthouse"),
        (image(b"plain words", mime_type="text/plain"), "not_an_image", "text/plain"),
        (image(b"\x89PNG but not really"), "not_an_image", "not an image we accept"),
    ],
    ids=["image-safety", "prohibited", "blocked-prompt", "text-only", "text-payload", "bad-png"],
)
def test_an_answer_without_a_picture_fails_the_job_once(
    gemini, fake_gemini, query, reply, code, detail
):
    fake_gemini.script(reply)

    job = run(gemini(), prompt="a lighthouse")

    assert job["status"] == "failed"
    assert job["error"]["code"] == code
    assert detail in job["error"]["message"]
    assert (job["image_id"], job["image_url"]) == (None, None)
    assert len(fake_gemini.requests) == 1
    assert query("SELECT COUNT(*) FROM images") == [(0,)]


def test_429_is_retried_then_succeeds(gemini, fake_gemini):
    busy = error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted.")
    fake_gemini.script(busy, busy, image(png(seed=7)))

    job = run(gemini(), prompt="a windmill")

    assert job["status"] == "succeeded", job
    assert len(fake_gemini.requests) == 3


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (error(429, "RESOURCE_EXHAUSTED", "Quota exceeded."), "rate_limited"),
        (error(500, "INTERNAL", "An internal error has occurred."), "backend_unavailable"),
        (error(503, "UNAVAILABLE", "The model is overloaded."), "backend_unavailable"),
    ],
    ids=["429", "500", "503"],
)
def test_a_persistent_error_is_retried_then_fails_clearly(gemini, fake_gemini, reply, code):
    fake_gemini.script(reply)

    job = run(gemini(GEMINI_ATTEMPTS=3), prompt="a windmill")

    assert job["status"] == "failed"
    assert job["error"]["code"] == code
    assert "after 3 attempts" in job["error"]["message"]
    assert reply.body["error"]["message"] in job["error"]["message"]
    assert len(fake_gemini.requests) == 3


def test_a_wrong_key_fails_at_once(gemini, fake_gemini):
    fake_gemini.script(image(png()))

    job = run(gemini(GEMINI_API_KEY="not-the-key"), prompt="a windmill")

    assert job["status"] == "failed"
    assert job["error"]["code"] == "auth_failed"
    assert "401" in job["error"]["message"]
    assert "not-the-key" not in job["error"]["message"]
    assert len(fake_gemini.requests) == 1


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (error(403, "PERMISSION_DENIED", "Permission denied."), "auth_failed"),
        (error(400, "INVALID_ARGUMENT", "Invalid image config."), "backend_rejected"),
        (error(404, "NOT_FOUND", "models/nope is not found."), "backend_rejected"),
    ],
    ids=["403", "400", "404"],
)
def test_a_refused_request_fails_at_once(gemini, fake_gemini, reply, code):
    fake_gemini.script(reply)

    job = run(gemini(), prompt="a windmill")

    assert (job["status"], job["error"]["code"]) == ("failed", code)
    assert reply.body["error"]["message"] in job["error"]["message"]
    assert len(fake_gemini.requests) == 1


def test_a_call_that_takes_too_long_times_out(gemini, fake_gemini):
    slow = image(png())
    slow.delay = 10
    fake_gemini.script(slow)

    job = run(gemini(GEMINI_TIMEOUT=0.3, GEMINI_ATTEMPTS=2), prompt="a windmill")

    assert (job["status"], job["error"]["code"]) == ("failed", "timeout")
    assert len(fake_gemini.requests) == 2
