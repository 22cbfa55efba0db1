"""Token hygiene: a cap per user, expiry, revoke-all, names that cannot attack a terminal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from conftest import authenticated
from support import assert_problem, jpeg, upload


def as_user(app, token: str):
    return authenticated(app.test_client(), token)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def new_token(client, name: str = "laptop", **fields):
    return client.post("/tokens", json={"name": name, **fields})


def test_a_user_has_at_most_max_tokens_per_user_live_tokens(make_app, make_user):
    app = make_app(MAX_TOKENS_PER_USER=3)
    client = as_user(app, make_user("alice"))  # one token already: "default"
    assert new_token(client, "two").status_code == 201
    third = new_token(client, "three").get_json()

    refused = new_token(client, "four")

    assert_problem(refused, 409, detail_has="at most 3")
    assert [t["name"] for t in client.get("/tokens").get_json()] == ["default", "two", "three"]
    assert client.delete(f"/tokens/{third['id']}").status_code == 204
    assert new_token(client, "four").status_code == 201


def test_the_cap_holds_from_the_command_line_too(make_app, make_user):
    app = make_app(MAX_TOKENS_PER_USER=1)
    make_user("alice")

    refused = app.test_cli_runner().invoke(args=["tokens", "create", "alice", "--name", "x"])

    assert refused.exit_code != 0
    assert "at most 1" in refused.output


def test_a_token_can_expire(app, client, query):
    expires = datetime.now(UTC) + timedelta(days=30)

    created = new_token(client, "short-lived", expires_at=iso(expires))

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert datetime.fromisoformat(body["expires_at"]) == expires.replace(microsecond=0) or abs(
        datetime.fromisoformat(body["expires_at"]) - expires
    ) < timedelta(seconds=1)
    listed = {t["name"]: t for t in client.get("/tokens").get_json()}
    assert listed["short-lived"]["expires_at"] == body["expires_at"]
    assert listed["default"]["expires_at"] is None
    short = as_user(app, body["token"])
    assert upload(short, jpeg()).status_code == 201

    query(
        "UPDATE api_tokens SET expires_at = :past WHERE id = :id",
        past=datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1),
        id=body["id"],
    )

    assert_problem(upload(short, jpeg(seed=2)), 401, detail_has="not valid")


@pytest.mark.parametrize("when", ["2001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "soon"])
def test_an_expiry_must_be_a_moment_to_come(client, when):
    assert_problem(new_token(client, expires_at=when), 422, detail_has="expires_at")


def test_the_command_line_sets_and_shows_an_expiry(app, make_user):
    make_user("alice")
    runner = app.test_cli_runner()

    made = runner.invoke(
        args=["tokens", "create", "alice", "--name", "ci", "--expires-at", "2999-06-30"]
    )
    listed = runner.invoke(args=["tokens", "list", "alice"]).output

    assert made.exit_code == 0, made.output
    [line] = [line for line in listed.splitlines() if " ci " in line]
    assert "2999-06-30" in line
    assert "expires" in listed.splitlines()[0]


def test_revoke_all_leaves_only_the_token_that_asked(app, client, token):
    others = [new_token(client, f"t{n}").get_json()["token"] for n in range(3)]

    response = client.delete("/tokens")

    assert response.status_code == 200
    assert response.get_json() == {"revoked": 3}
    for secret in others:
        assert_problem(upload(as_user(app, secret), jpeg()), 401)
    assert upload(client, jpeg()).status_code == 201
    states = {t["name"]: t["revoked_at"] for t in client.get("/tokens").get_json()}
    assert states["default"] is None
    assert all(states[f"t{n}"] for n in range(3))


def test_revoke_all_from_the_command_line(app, client, make_user, token):
    bobs = make_user("bob")
    new_token(client, "second")

    result = app.test_cli_runner().invoke(args=["tokens", "revoke-all", "alice"])

    assert result.exit_code == 0, result.output
    assert "2" in result.output
    assert_problem(upload(client, jpeg()), 401)
    assert upload(as_user(app, bobs), jpeg()).status_code == 201


@pytest.mark.parametrize(
    "name", ["lap\x1b[31mtop", "nul\x00", "bell\x07", "line\nbreak", "rtl\u202eexe.txt", "\u2028"]
)
def test_token_names_cannot_hold_control_characters(app, client, name):
    assert_problem(new_token(client, name), 422, detail_has="name")
    refused = app.test_cli_runner().invoke(args=["tokens", "create", "alice", "--name", name])
    assert refused.exit_code != 0


def test_the_cli_list_never_prints_raw_control_characters(app, client, query):
    """Names stored before the rule (or by other means) are shown escaped."""
    query("UPDATE api_tokens SET name = :name", name="evil\x1b]0;owned\x07\u202e")

    listed = app.test_cli_runner().invoke(args=["tokens", "list"]).output

    assert "evil" in listed
    assert "\x1b" not in listed and "\x07" not in listed and "\u202e" not in listed
    assert "\\x1b" in listed


def test_concurrent_creations_cannot_pass_the_cap(live_server, token, query):
    server = live_server(MAX_TOKENS_PER_USER="5", WEB_CONCURRENCY="2")
    start = threading.Barrier(16)

    def create(n: int) -> int:
        start.wait()
        return requests.post(
            f"{server.url}/tokens",
            json={"name": f"racer-{n}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(create, range(16)))

    assert statuses == [201] * 4 + [409] * 12  # alice's "default" is the fifth
    assert query("SELECT COUNT(*) FROM api_tokens") == [(5,)]
