"""POST /image/generate with the local backend: jobs, the stored picture, access, input."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image
from support import PROBLEM_JSON, assert_problem, ended_job, generate, upload

from image_repo.generation.backends import Options
from image_repo.generation.backends.local import LocalBackend


def test_generate_queues_a_job_that_stores_a_generated_image(client, query):
    response = generate(client, prompt="  a lighthouse at dusk ", style="watercolor")

    assert response.status_code == 202
    queued = response.get_json()
    assert response.headers["Location"] == f"/image/jobs/{queued['id']}" == queued["url"]
    assert queued["status"] in ("queued", "running", "succeeded")
    assert queued["prompt"] == "a lighthouse at dusk"
    assert queued["final_prompt"].startswith("A watercolour painting of a lighthouse at dusk,")
    assert (queued["style"], queued["backend"], queued["model"]) == (
        "watercolor",
        "local",
        "placeholder-v1",
    )
    assert "placeholder" in queued["notice"]
    assert queued["owner"] == "alice"

    job = ended_job(client, response.headers["Location"])

    assert job["status"] == "succeeded", job
    assert (job["stage"], job["progress"], job["error"]) == ("succeeded", 100, None)
    assert job["duplicate"] is False
    assert job["image_url"] == f"/image/{job['image_id']}"
    created, started, finished = (
        datetime.fromisoformat(job[name]) for name in ("created_at", "started_at", "finished_at")
    )
    assert created <= started <= finished <= datetime.now(UTC)
    picture = client.get(job["image_url"])
    assert picture.status_code == 200
    assert picture.mimetype == "image/png"
    assert Image.open(io.BytesIO(picture.data)).size == (768, 768)
    assert query("SELECT source, owner_id IS NOT NULL FROM images") == [("generated", 1)]


def test_same_prompt_and_style_give_the_same_picture_stored_once(client, query):
    first = ended_job(client, generate(client, prompt="a red fox", style="photo").location)
    again = ended_job(client, generate(client, prompt="a red fox", style="photo").location)
    other_style = ended_job(client, generate(client, prompt="a red fox", style="line-art").location)

    assert (first["duplicate"], again["duplicate"], other_style["duplicate"]) == (
        False,
        True,
        False,
    )
    assert again["image_id"] == first["image_id"] != other_style["image_id"]
    assert query("SELECT COUNT(*) FROM images") == [(2,)]


def test_the_local_picture_is_the_prompt_drawn_deterministically(client):
    job = ended_job(client, generate(client, prompt="a blue whale", aspect_ratio="16:9").location)

    stored = Image.open(io.BytesIO(client.get(job["image_url"]).data))
    expected = local_picture("a blue whale", "16:9")
    assert stored.size == (768, 432)
    assert stored.tobytes() == Image.open(io.BytesIO(expected)).tobytes()


def local_picture(prompt: str, aspect_ratio: str = "1:1") -> bytes:
    return LocalBackend().generate(
        prompt, model="placeholder-v1", options=Options(aspect_ratio=aspect_ratio)
    )


def test_a_generated_picture_that_was_uploaded_before_is_the_upload(client, query):
    uploaded = upload(client, local_picture("a kite"), "kite.png").get_json()

    job = ended_job(client, generate(client, prompt="a kite").location)

    assert (job["image_id"], job["duplicate"]) == (uploaded["id"], True)
    assert uploaded["source"] == "upload"
    assert query("SELECT source FROM images") == [("upload",)]


def test_provenance_and_prompt_filter_for_the_list_and_details(client):
    job = ended_job(
        client, generate(client, prompt="A Tiny 100% Robot", style="pixel-art").location
    )
    ended_job(client, generate(client, prompt="A Tiny 100% Robot", style="pixel-art").location)
    other = ended_job(client, generate(client, prompt="a garden").location)
    uploaded = upload(client, local_picture("an upload"), "upload.png").get_json()

    def matching(**filters) -> list[int]:
        items = client.get("/image/list", query_string={"sort": "uploaded_at", **filters})
        return [item["id"] for item in items.get_json()["items"]]

    assert matching(prompt="tiny 100%") == [job["image_id"]]
    assert matching(prompt="100_") == []  # % and _ are not wildcards
    assert matching(prompt="a") == [job["image_id"], other["image_id"]]
    assert matching(prompt="pixel art") == []  # the style's words are not the prompt
    assert matching(source="generated") == [job["image_id"], other["image_id"]]
    assert matching(source="upload") == [uploaded["id"]]
    assert client.get(f"/image/{uploaded['id']}/details").get_json()["provenance"] is None
    details = client.get(f"/image/{job['image_id']}/details").get_json()
    assert details["source"] == "generated"
    assert details["provenance"] == {
        "prompt": "A Tiny 100% Robot",
        "final_prompt": job["final_prompt"],
        "style": "pixel-art",
        "backend": "local",
        "model": "placeholder-v1",
        "aspect_ratio": None,
        "job_id": job["id"],
        "generated_at": job["finished_at"],
    }


def test_deleting_the_image_keeps_the_job(client):
    job = ended_job(client, generate(client, prompt="a teapot").location)

    assert client.delete(job["image_url"]).status_code == 204

    after = client.get(job["url"]).get_json()
    assert (after["status"], after["image_id"], after["image_url"]) == ("succeeded", None, None)


def test_styles_are_listed_with_their_templates(anonymous):
    response = anonymous.get("/image/styles")

    assert response.status_code == 200
    styles = {style["name"]: style for style in response.get_json()}
    assert {"photo", "watercolor", "pixel-art"} <= set(styles)
    assert all(
        "{prompt}" in style["template"] and style["description"] for style in styles.values()
    )


def test_generate_needs_a_token(anonymous, query):
    response = generate(anonymous, prompt="a cat")

    assert_problem(response, 401)
    assert query("SELECT COUNT(*) FROM generation_jobs") == [(0,)]


def test_jobs_are_seen_by_their_owner_and_admins_only(app, client, make_user):
    location = generate(client, prompt="a secret").location
    bob = app.test_client()
    bob.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_user('bob')}"
    admin = app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_user('root', admin=True)}"

    assert_problem(bob.get(location), 404)
    assert admin.get(location).get_json()["owner"] == "alice"
    assert client.get(location).status_code == 200
    assert_problem(app.test_client().get(location), 401)


def test_anonymous_jobs_when_anonymous_uploads_are_allowed(make_app):
    anonymous = make_app(ALLOW_ANONYMOUS_UPLOAD=True).test_client()

    job = ended_job(anonymous, generate(anonymous, prompt="a cloud").location)

    assert (job["status"], job["owner"]) == ("succeeded", None)


def test_unknown_jobs_are_404(client):
    for job_id in ("0" * 32, "not-a-job", "é" * 8, "a" * 40):
        assert_problem(client.get(f"/image/jobs/{job_id}"), 404)


def test_invalid_requests_are_422_with_the_field(client, query):
    cases = {
        "prompt": {},
        "style": {"prompt": "a cat", "style": "cubism"},
        "backend": {"prompt": "a cat", "backend": "dalle"},
        "aspect_ratio": {"prompt": "a cat", "aspect_ratio": "7:3"},
    }
    for field, body in cases.items():
        problem = assert_problem(generate(client, **body), 422)
        assert [error["field"] for error in problem["errors"]] == [field], problem
    assert_problem(generate(client, prompt="   "), 422)
    assert_problem(generate(client, prompt="x" * 2001), 422)
    assert_problem(generate(client, prompt=7), 422)
    assert query("SELECT COUNT(*) FROM generation_jobs") == [(0,)]


def test_a_backend_or_model_the_server_lacks_is_422(client):
    no_gemini = assert_problem(generate(client, prompt="a cat", backend="gemini"), 422)
    no_model = assert_problem(generate(client, prompt="a cat", model="sdxl"), 422)

    assert "not configured" in no_gemini["detail"]
    assert no_gemini["errors"][0]["field"] == "backend"
    assert no_model["errors"][0]["field"] == "model"


def test_malformed_json_is_a_problem_not_a_page(client):
    response = client.post("/image/generate", data="{not json", content_type="application/json")

    assert response.status_code in (400, 422)
    assert response.mimetype == PROBLEM_JSON


def test_wait_must_be_between_0_and_60_seconds(client):
    location = generate(client, prompt="a dog").location

    for wait in ("-1", "61", "soon"):
        problem = assert_problem(client.get(f"{location}?wait={wait}"), 400)
        assert problem["errors"][0]["field"] == "wait"


def test_the_eleventh_request_in_a_minute_is_429_with_retry_after(make_client, make_user):
    client = make_client(GENERATION_RATE_LIMIT="10/minute")

    accepted = [generate(client, prompt=f"picture {n}") for n in range(10)]
    refused = generate(client, prompt="one too many")

    assert [response.status_code for response in accepted] == [202] * 10
    assert not any("Retry-After" in response.headers for response in accepted)
    problem = assert_problem(refused, 429, detail_has="10/minute")
    assert problem["title"] == "Too Many Requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    bob = client.application.test_client()  # another user has their own allowance
    bob.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_user('bob')}"
    assert generate(bob, prompt="my first").status_code == 202


def test_openapi_describes_the_generation_endpoints(client):
    spec = client.get("/openapi.json").get_json()

    operations = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert operations >= {
        ("POST", "/image/generate"),
        ("GET", "/image/jobs/{job_id}"),
        ("GET", "/image/styles"),
    }
    generate_202 = spec["paths"]["/image/generate"]["post"]["responses"]["202"]
    assert "Location" in generate_202["headers"]
    assert "watercolor" in spec["components"]["schemas"]["Generate"]["properties"]["style"]["enum"]
