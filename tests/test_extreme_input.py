"""Input at the edges: calendar extremes, deep nesting, text that is not Unicode.

Each was a 500 once; each is a 4xx problem+json, and nothing is written.
"""

from __future__ import annotations

import base64
import json

import pytest
from support import assert_problem

from image_repo.api.errors import problem_for
from image_repo.imaging import CorruptImage, ImageTooLarge

CALENDAR_EDGES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999",
]


def cursor_of(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@pytest.mark.parametrize("moment", CALENDAR_EDGES)
@pytest.mark.parametrize(
    "field", ["uploaded_after", "uploaded_before", "taken_after", "taken_before"]
)
def test_calendar_extremes_in_date_filters(client, field, moment):
    response = client.get("/image/list", query_string={field: moment})

    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert_problem(response, 400, detail_has=field)


@pytest.mark.parametrize("moment", CALENDAR_EDGES)
@pytest.mark.parametrize("sort", ["-uploaded_at", "uploaded_at", "taken_at", "-taken_at"])
def test_calendar_extremes_in_cursors(client, sort, moment):
    cursor = cursor_of(json.dumps([sort, moment, 1]))

    response = client.get("/image/list", query_string={"sort": sort, "cursor": cursor})

    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert_problem(response, 400, detail_has="cursor")


def test_a_deeply_nested_cursor(client):
    response = client.get("/image/list", query_string={"cursor": cursor_of("[" * 1450)})

    assert_problem(response, 400, detail_has="cursor")


@pytest.mark.parametrize("path", ["/image/generate", "/tokens"])
def test_a_deeply_nested_json_body(client, path, query):
    body = "[" * 100_000 + "]" * 100_000

    response = client.post(path, data=body, content_type="application/json")

    assert_problem(response, 400, detail_has="nested")
    assert query("SELECT COUNT(*) FROM generation_jobs") == [(0,)]


@pytest.mark.parametrize(
    ("path", "field"), [("/image/check", "file_sha256"), ("/image/generate", "prompt")]
)
def test_a_field_nested_as_deep_as_json_parses(client, path, field):
    """Parsed (below the parser's depth limit), then refused by the field."""
    body = f'{{"{field}": {"[" * 900}{"]" * 900}}}'

    response = client.post(path, data=body, content_type="application/json")

    problem = assert_problem(response, 422)
    assert [error["field"].split(".")[0] for error in problem["errors"]] == [field]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/image/generate", {"prompt": "\ud800 x"}, "prompt"),
        ("/image/generate", {"prompt": "a cat", "model": "m\udfff"}, "model"),
        ("/tokens", {"name": "\ud800"}, "name"),
        ("/tokens", {"name": "ok", "\udc00": 1}, "\udc00"),
    ],
)
def test_lone_surrogates_in_json_text(client, query, path, body, field):
    raw = json.dumps(body)  # ensure_ascii: the surrogates travel as \\udXXX escapes

    response = client.post(path, data=raw, content_type="application/json")

    problem = assert_problem(response, 422)
    assert field in [error["field"] for error in problem["errors"]]
    assert query("SELECT COUNT(*) FROM generation_jobs") == [(0,)]
    assert query("SELECT COUNT(*) FROM api_tokens") == [(1,)]  # alice's own


def test_lone_surrogates_in_query_text_never_reach_the_database(client):
    for field in ("name", "prompt", "owner", "camera_make"):
        response = client.get(f"/image/list?{field}=%ED%A0%80")
        assert response.status_code in (200, 400), response.get_data(as_text=True)


def test_a_subclass_of_an_image_rejection_keeps_its_parents_status():
    class DamagedStrip(CorruptImage):
        pass

    class HugeCanvas(ImageTooLarge):
        pass

    assert problem_for(DamagedStrip("a strip is damaged")).status == 422
    assert problem_for(HugeCanvas("too many pixels")).status == 413
