"""Tokens, owners and who may do what."""

from __future__ import annotations

import hashlib
import time

import pytest
from conftest import authenticated
from support import assert_problem, jpeg, stored_files, upload

CHALLENGE = 'Bearer realm="image-repo"'
INVALID = 'Bearer realm="image-repo", error="invalid_token"'


def as_user(app, token: str):
    return authenticated(app.test_client(), token)


def test_upload_needs_a_token(anonymous, storage_dir, query):
    response = upload(anonymous, jpeg())

    assert_problem(response, 401, detail_has="API token")
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == []


def test_an_upload_records_its_owner(client):
    record = upload(client, jpeg()).get_json()

    assert record["owner"] == "alice"
    assert client.get(f"/image/{record['id']}").status_code == 200


def test_anonymous_upload_when_enabled(make_app):
    anonymous = make_app(ALLOW_ANONYMOUS_UPLOAD=True).test_client()

    response = upload(anonymous, jpeg())

    assert response.status_code == 201
    assert response.get_json()["owner"] is None


def test_owner_deletes(client):
    record = upload(client, jpeg()).get_json()

    assert client.delete(f"/image/{record['id']}").status_code == 204


def test_stranger_gets_403_and_the_image_stays(app, client, make_user):
    record = upload(client, jpeg()).get_json()
    bob = as_user(app, make_user("bob"))

    assert_problem(bob.delete(f"/image/{record['id']}"), 403, detail_has="owner")
    assert client.get(f"/image/{record['id']}").status_code == 200


def test_admin_deletes_anyones_image(app, client, make_user):
    record = upload(client, jpeg()).get_json()
    root = as_user(app, make_user("root", admin=True))

    assert root.delete(f"/image/{record['id']}").status_code == 204
    assert_problem(client.get(f"/image/{record['id']}"), 404)


def test_delete_without_a_token_is_401(client, anonymous):
    record = upload(client, jpeg()).get_json()

    response = anonymous.delete(f"/image/{record['id']}")

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_anonymous_mode_deletes_ownerless_images_only(make_app, token):
    app = make_app(ALLOW_ANONYMOUS_UPLOAD=True)
    anonymous, alice = app.test_client(), as_user(app, token)
    ownerless = upload(anonymous, jpeg(seed=1)).get_json()
    owned = upload(alice, jpeg(seed=2)).get_json()

    assert anonymous.delete(f"/image/{ownerless['id']}").status_code == 204
    assert_problem(anonymous.delete(f"/image/{owned['id']}"), 401)


def test_the_same_picture_from_another_user_is_their_own_record(app, client, make_user):
    data = jpeg()
    first = upload(client, data).get_json()
    bob = as_user(app, make_user("bob"))

    again = upload(bob, data)

    assert again.status_code == 201
    assert again.get_json()["id"] != first["id"]
    assert again.get_json()["owner"] == "bob"
    assert_problem(bob.delete(f"/image/{first['id']}"), 403)


def test_revoked_token_gets_401(app, client, token):
    [mine] = client.get("/tokens").get_json()
    assert client.delete(f"/tokens/{mine['id']}").status_code == 204

    response = upload(as_user(app, token), jpeg())

    assert_problem(response, 401, detail_has="not valid")
    assert response.headers["WWW-Authenticate"] == INVALID


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer irt_not-a-real-token",
        "Bearer not-even-the-right-shape",
        "Bearer " + "x" * 10_000,
        "Basic YWxpY2U6c2VjcmV0",
        "Token irt_abc",
        "garbage",
    ],
)
def test_malformed_or_bogus_headers_are_401_without_hints(app, header):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = header

    response = upload(client, jpeg())

    body = assert_problem(response, 401)
    assert body["detail"] == "The API token is not valid."
    assert response.headers["WWW-Authenticate"] == INVALID


def test_a_bad_token_on_a_public_read_is_401_not_anonymous(client, app):
    record = upload(client, jpeg()).get_json()
    liar = authenticated(app.test_client(), "irt_made-up")

    assert_problem(liar.get(f"/image/{record['id']}"), 401)


def test_reads_are_public_by_default(client, anonymous):
    record = upload(client, jpeg()).get_json()

    assert anonymous.get(f"/image/{record['id']}").status_code == 200


def test_private_read_mode_needs_a_token(make_app, token):
    app = make_app(PUBLIC_READ=False)
    alice = as_user(app, token)
    record = upload(alice, jpeg()).get_json()

    response = app.test_client().get(f"/image/{record['id']}")

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert alice.get(f"/image/{record['id']}").status_code == 200


def test_the_scheme_name_is_case_insensitive(app, token):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"bearer {token}"

    assert upload(client, jpeg()).status_code == 201


def test_only_the_tokens_hash_is_stored(token, query):
    rows = query("SELECT token_sha256, name FROM api_tokens")

    assert rows == [(hashlib.sha256(token.encode()).hexdigest(), "default")]


def test_tokens_are_listed_without_secrets_and_last_use_is_kept(client, token):
    before = client.get("/tokens").get_json()

    assert len(before) == 1
    assert before[0]["name"] == "default"
    assert before[0]["revoked_at"] is None
    assert token not in client.get("/tokens").get_data(as_text=True)
    # The use is written on the side, soon after (see token_use).
    deadline = time.monotonic() + 5
    while client.get("/tokens").get_json()[0]["last_used_at"] is None:
        assert time.monotonic() < deadline, "the token's use was never recorded"
        time.sleep(0.05)


def test_a_new_token_is_shown_once_and_works(app, client):
    response = client.post("/tokens", json={"name": "laptop"})

    assert response.status_code == 201
    new = response.get_json()
    assert new["name"] == "laptop"
    assert new["token"].startswith("irt_")
    assert upload(as_user(app, new["token"]), jpeg()).status_code == 201
    listed = client.get("/tokens").get_json()
    assert [t["name"] for t in listed] == ["default", "laptop"]
    assert all("token" not in t for t in listed)


def test_users_cannot_revoke_each_others_tokens_but_admins_can(app, client, make_user, token):
    [alices] = client.get("/tokens").get_json()
    bob = as_user(app, make_user("bob"))
    root = as_user(app, make_user("root", admin=True))

    assert_problem(bob.delete(f"/tokens/{alices['id']}"), 404)
    assert upload(client, jpeg()).status_code == 201
    assert root.delete(f"/tokens/{alices['id']}").status_code == 204
    assert_problem(upload(client, jpeg(seed=2)), 401)


def test_token_endpoints_need_a_token(anonymous):
    assert_problem(anonymous.get("/tokens"), 401)
    assert_problem(anonymous.post("/tokens", json={"name": "x"}), 401)


def test_cli_creates_users_and_tokens_and_revokes_them(app):
    runner = app.test_cli_runner()

    created = runner.invoke(args=["users", "create", "Carol", "--admin"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("irt_")
    assert "shown only this once" in created.stderr
    assert upload(as_user(app, secret), jpeg()).get_json()["owner"] == "carol"

    listed = runner.invoke(args=["users", "list"])
    assert "carol" in listed.output
    assert "admin" in listed.output

    another = runner.invoke(args=["tokens", "create", "carol", "--name", "ci"])
    assert another.exit_code == 0
    tokens = runner.invoke(args=["tokens", "list", "carol"]).output
    assert "ci" in tokens
    assert another.stdout.strip() not in tokens
    token_id = next(line.split()[0] for line in tokens.splitlines() if " ci " in line)

    revoked = runner.invoke(args=["tokens", "revoke", token_id])
    assert revoked.exit_code == 0
    assert_problem(upload(as_user(app, another.stdout.strip()), jpeg(seed=3)), 401)


def test_cli_refuses_duplicate_and_malformed_user_names(app, make_user):
    make_user("dave")
    runner = app.test_cli_runner()

    assert "already a user" in runner.invoke(args=["users", "create", "DAVE"]).output
    bad = runner.invoke(args=["users", "create", "no spaces please"])
    assert bad.exit_code != 0
    assert "user name" in bad.output


def test_spec_documents_the_bearer_scheme(client):
    spec = client.get("/openapi.json").get_json()

    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    assert {"BearerAuth": []} in spec["paths"]["/image/upload"]["post"]["security"]
