"""Listing: every filter, every sort, cursor pages that hold while images arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import authenticated
from PIL import Image
from sqlalchemy import event
from support import assert_problem, encode, noise, upload

from image_repo import catalog
from image_repo.models import db


def photo(seed: int, *, size=(64, 48), make=None, model=None, taken=None, gps=None, fmt="JPEG"):
    """A picture with the EXIF a camera would write."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if gps:
        latitude, longitude = gps
        exif.get_ifd(0x8825).update(
            {1: "N", 2: (float(latitude), 0.0, 0.0), 3: "E", 4: (float(longitude), 0.0, 0.0)}
        )
    options = {"exif": exif} if fmt == "JPEG" else {}
    return encode(noise(size, seed=seed), fmt, **options)


@pytest.fixture
def library(app, client, make_user):
    """Six images of two owners with varied formats, sizes, cameras, dates and places."""
    bob = authenticated(app.test_client(), make_user("bob"))
    specs = [
        (
            "alice",
            "beach.jpg",
            photo(
                1,
                size=(160, 120),
                make="Canon",
                model="EOS R5",
                taken="2021:06:01 10:00:00",
                gps=(43, 5),
            ),
        ),
        (
            "alice",
            "forest.jpg",
            photo(
                2,
                size=(120, 160),
                make="NIKON CORPORATION",
                model="NIKON D70",
                taken="2019:01:15 08:30:00",
            ),
        ),
        (
            "bob",
            "city.jpg",
            photo(
                3,
                size=(60, 40),
                make="Canon",
                model="EOS 5D",
                taken="2023:09:09 18:45:00",
                gps=(48, 2),
            ),
        ),
        ("bob", "drawing.png", photo(4, size=(20, 20), fmt="PNG")),
        (
            "alice",
            "Beach-Sunset.jpg",
            photo(5, size=(200, 100), make="canon", model="eos r5", taken="2021:06:01 20:00:00"),
        ),
        ("bob", "scan.gif", photo(6, size=(10, 14), fmt="GIF")),
    ]
    records = {}
    for owner, name, data in specs:
        response = upload(client if owner == "alice" else bob, data, name)
        assert response.status_code == 201, response.get_json()
        records[name] = response.get_json()
    return records


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["original_name"] for item in response.get_json()["items"]]


def listed(client, **params) -> list[str]:
    return names(client.get("/image/list", query_string=params))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"owner": "bob"}, {"city.jpg", "drawing.png", "scan.gif"}),
        ({"owner": "me"}, {"beach.jpg", "forest.jpg", "Beach-Sunset.jpg"}),
        ({"owner": "nobody"}, set()),
        ({"format": "png"}, {"drawing.png"}),
        ({"format": "JPEG"}, {"beach.jpg", "forest.jpg", "city.jpg", "Beach-Sunset.jpg"}),
        ({"format": "jpg"}, {"beach.jpg", "forest.jpg", "city.jpg", "Beach-Sunset.jpg"}),
        ({"format": "JPG"}, {"beach.jpg", "forest.jpg", "city.jpg", "Beach-Sunset.jpg"}),
        ({"name": "beach"}, {"beach.jpg", "Beach-Sunset.jpg"}),
        ({"name": "%"}, set()),
        ({"camera_make": "CANON"}, {"beach.jpg", "city.jpg", "Beach-Sunset.jpg"}),
        ({"camera_model": "EOS R5"}, {"beach.jpg", "Beach-Sunset.jpg"}),
        ({"has_gps": "true"}, {"beach.jpg", "city.jpg"}),
        (
            {"has_gps": "false"},
            {"forest.jpg", "drawing.png", "Beach-Sunset.jpg", "scan.gif"},
        ),
        ({"min_width": 120}, {"beach.jpg", "forest.jpg", "Beach-Sunset.jpg"}),
        ({"max_width": 20}, {"drawing.png", "scan.gif"}),
        ({"min_height": 120}, {"beach.jpg", "forest.jpg"}),
        ({"max_height": 20}, {"drawing.png", "scan.gif"}),
        ({"taken_after": "2021-06-01T12:00:00"}, {"city.jpg", "Beach-Sunset.jpg"}),
        ({"taken_before": "2021-06-01T12:00:00"}, {"beach.jpg", "forest.jpg"}),
        (
            {"taken_after": "2021-01-01", "taken_before": "2022-01-01", "owner": "alice"},
            {"beach.jpg", "Beach-Sunset.jpg"},
        ),
        ({"camera_make": "canon", "has_gps": "true", "owner": "bob"}, {"city.jpg"}),
    ],
)
def test_filters(client, library, params, expected):
    assert set(listed(client, **params)) == expected


def test_uploaded_after_and_before(client, library, query):
    city = datetime.fromisoformat(library["city.jpg"]["uploaded_at"])

    after = set(listed(client, uploaded_after=city.isoformat()))
    before = set(listed(client, uploaded_before=city.isoformat()))

    assert after == {"city.jpg", "drawing.png", "Beach-Sunset.jpg", "scan.gif"}
    assert before == {"beach.jpg", "forest.jpg"}
    naive_utc = city.astimezone(UTC).replace(tzinfo=None).isoformat()
    assert set(listed(client, uploaded_after=naive_utc)) == after
    in_paris = city.astimezone(timezone(timedelta(hours=2)))
    assert set(listed(client, uploaded_after=in_paris.isoformat())) == after


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (
            "-uploaded_at",
            ["scan.gif", "Beach-Sunset.jpg", "drawing.png", "city.jpg", "forest.jpg", "beach.jpg"],
        ),
        (
            "uploaded_at",
            ["beach.jpg", "forest.jpg", "city.jpg", "drawing.png", "Beach-Sunset.jpg", "scan.gif"],
        ),
        (
            "taken_at",
            ["forest.jpg", "beach.jpg", "Beach-Sunset.jpg", "city.jpg", "drawing.png", "scan.gif"],
        ),
        (
            "-taken_at",
            ["city.jpg", "Beach-Sunset.jpg", "beach.jpg", "forest.jpg", "scan.gif", "drawing.png"],
        ),
    ],
)
def test_sorts(client, library, sort, expected):
    assert listed(client, sort=sort) == expected


@pytest.mark.parametrize("sort", ["file_size", "-file_size"])
def test_sort_by_file_size(client, library, sort):
    items = client.get("/image/list", query_string={"sort": sort}).get_json()["items"]

    sizes = [item["file_size"] for item in items]
    assert sizes == sorted(sizes, reverse=sort.startswith("-"))
    assert len(items) == 6


@pytest.mark.parametrize(
    "sort", ["-uploaded_at", "uploaded_at", "taken_at", "-taken_at", "file_size", "-file_size"]
)
def test_cursor_pages_through_everything_exactly_once(client, library, sort):
    everything = listed(client, sort=sort)
    seen, cursor, pages = [], None, 0

    while True:
        params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/image/list", query_string=params)
        seen += names(response)
        pages += 1
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            assert "Link" not in response.headers
            break
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"')
        next_params = parse_qs(urlsplit(link[1 : link.index(">")]).query)
        assert next_params["cursor"] == [cursor]
        assert next_params["sort"] == [sort]

    assert seen == everything
    assert pages == 3


def test_images_arriving_while_paging_are_not_repeated_or_skipped(client, library):
    first = client.get("/image/list", query_string={"limit": 3}).get_json()
    for seed in range(10, 14):
        upload(client, photo(seed), f"new-{seed}.jpg")

    rest = names(
        client.get("/image/list", query_string={"limit": 50, "cursor": first["next_cursor"]})
    )

    shown = [item["original_name"] for item in first["items"]] + rest
    assert sorted(shown) == sorted(library)
    assert len(shown) == len(set(shown))


def test_oldest_first_paging_picks_up_new_arrivals_once(client, library):
    first = client.get("/image/list", query_string={"sort": "uploaded_at", "limit": 4}).get_json()
    upload(client, photo(20), "late.jpg")

    rest = names(
        client.get(
            "/image/list",
            query_string={"sort": "uploaded_at", "limit": 50, "cursor": first["next_cursor"]},
        )
    )

    assert rest == ["Beach-Sunset.jpg", "scan.gif", "late.jpg"]


def test_items_are_full_records(client, library):
    [item] = client.get("/image/list", query_string={"name": "forest"}).get_json()["items"]

    assert item["owner"] == "alice"
    assert item["camera_model"] == "NIKON D70"
    assert item["taken_at"] == "2019-01-15T08:30:00"
    assert (item["width"], item["height"]) == (120, 160)


def test_default_limit_is_50_and_limit_is_capped(client, library):
    assert_problem(client.get("/image/list?limit=501"), 400, detail_has="limit")
    assert_problem(client.get("/image/list?limit=0"), 400, detail_has="limit")
    assert len(listed(client, limit=500)) == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=name", "sort"),
        ("limit=many", "limit"),
        ("format=psd", "format"),
        ("has_gps=perhaps", "has_gps"),
        ("min_width=-1", "min_width"),
        ("uploaded_after=yesterday", "uploaded_after"),
        ("taken_after=2021-06-01T12:00:00%2B02:00", "taken_after"),
        ("colour=red", "colour"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_parameters_are_400_naming_them(client, query, field):
    body = assert_problem(client.get(f"/image/list?{query}"), 400, detail_has=field)

    assert field in [error["field"] for error in body["errors"]]


def test_a_cursor_from_another_sort_is_refused(client, library):
    cursor = client.get("/image/list?limit=1").get_json()["next_cursor"]

    assert_problem(
        client.get(f"/image/list?sort=file_size&cursor={cursor}"), 400, detail_has="sort"
    )


def test_owner_me_needs_a_token(anonymous):
    assert_problem(anonymous.get("/image/list?owner=me"), 401)


def test_private_read_mode_protects_the_list(make_app):
    assert_problem(make_app(PUBLIC_READ=False).test_client().get("/image/list"), 401)


@pytest.mark.parametrize(
    ("filters", "sort", "deep", "index"),
    [
        ({}, "-uploaded_at", False, "ix_images_uploaded_at_id"),
        ({}, "taken_at", False, "ix_images_taken_at_id"),
        # A later page seeks to its place in the index instead of reading up to it.
        ({}, "-uploaded_at", True, "ix_images_uploaded_at_id (uploaded_at<?)"),
        ({}, "file_size", True, "ix_images_file_size_id (file_size>?)"),
        # One owner's pictures, in any order, come from an index of their own.
        ({"owner": "alice"}, "-uploaded_at", True, "ix_images_owner_id_uploaded_at_id"),
        ({"owner": "alice"}, "-taken_at", False, "ix_images_owner_id_taken_at_id"),
        ({"owner": "alice"}, "file_size", False, "ix_images_owner_id_file_size_id"),
    ],
)
def test_list_queries_use_their_indexes(app, library, request, filters, sort, deep, index):
    """Pages are read from an index in their order, never sorted in a temporary
    table, so page 1,000 costs what page 1 costs (bench/list_scaling.py measures it)."""
    if request.config.getoption("--db") != "sqlite":
        pytest.skip("MySQL picks plans by table size; bench/ measures the list there")
    statements = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    with app.app_context():
        cursor = catalog.search(filters, sort=sort, limit=1).next_cursor if deep else None
        assert cursor or not deep, "a later page needs more than one image to page through"
        event.listen(db.engine, "before_cursor_execute", capture)
        catalog.search(filters, sort=sort, limit=1, cursor=cursor)
        event.remove(db.engine, "before_cursor_execute", capture)
        statement, parameters = statements[0]
        connection = db.engine.raw_connection()
        try:
            rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        finally:
            connection.close()
    plan = " ".join(str(row[-1]) for row in rows)
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan
