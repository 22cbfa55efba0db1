"""Figure 6: list latency with 100,000 rows against 1,000, and page 1,000 against page 1.

Rows are seeded straight into the database (the query path is what is
measured), with the same mix at both sizes: the same share of each camera,
format and owner, so a filter keeps the same fraction of the rows. Requests go
through the app in process, on SQLite and on MySQL (BENCH_MYSQL_URL, default
root@127.0.0.1:3306; a database of its own, dropped afterwards).
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
from common import Row, ms
from flask_migrate import upgrade
from seed import seed
from sqlalchemy.engine import make_url

from image_repo import create_app
from image_repo.models import db

MYSQL_SERVER = os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306")
SMALL, LARGE = 1_000, 100_000
DEEP_PAGE = 1_000
ROUNDS = 60
# What a client filters and sorts by; each keeps a fixed share of the rows,
# enough for a full page of 50 at 1,000 rows too (else the pages would differ).
QUERIES = {
    "camera_make=canon&sort=-taken_at": "one camera make (16%), newest taken first",
    "format=png&min_width=2000&sort=-uploaded_at": "PNGs 2000+ px wide (7.5%), newest first",
    "owner=user3&sort=-taken_at": "one owner's (10%), newest taken first",
}
PAGED_QUERY = "format=jpeg&sort=-uploaded_at"  # 70% of the rows: 1,400 pages at 100k


def seeded_app(url: str, folder: Path, count: int):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "FILE_STORAGE_LOCATION": str(folder)})
    with app.app_context():
        upgrade()
        seed(count)
    return app


def p50(*requests: tuple) -> list[float]:
    """Median time of each (client, url), measured in turns so that whatever else
    the machine does weighs on each alike."""
    times: list[list[float]] = [[] for _ in requests]
    for client, url in requests:
        client.get(url)  # warm: statement cache, pages in memory
    for _ in range(ROUNDS):
        for spent, (client, url) in zip(times, requests, strict=True):
            started = time.perf_counter()
            response = client.get(url)
            spent.append(time.perf_counter() - started)
            assert response.status_code == 200, response.get_json()
    return [statistics.median(spent) for spent in times]


def deep_cursor(client, query: str, pages: int) -> str:
    """The cursor of page `pages`, found by paging there as a client would."""
    cursor = ""
    for _ in range(pages - 1):
        cursor = client.get(f"/image/list?{query}&limit=50{cursor}").get_json()["next_cursor"]
        assert cursor, "ran out of pages"
        cursor = f"&cursor={cursor}"
    return cursor


@contextmanager
def mysql_database() -> Iterator[str | None]:
    url = make_url(MYSQL_SERVER)
    name = f"image_repo_bench_{secrets.token_hex(3)}"
    try:
        server = pymysql.connect(
            host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
        )
    except pymysql.err.OperationalError:
        yield None
        return
    with server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


def measure_database(label: str, urls: dict[int, str], folder: Path) -> list[Row]:
    apps = {
        count: seeded_app(url, folder / f"{label}-{count}", count) for count, url in urls.items()
    }
    small, large = apps[SMALL].test_client(), apps[LARGE].test_client()
    rows = []
    for query, what in QUERIES.items():
        url = f"/image/list?{query}&limit=50"
        at_large, at_small = p50((large, url), (small, url))
        rows.append(
            Row(
                6,
                f"list, {label}: {what}, 100k rows",
                ms(at_large),
                f"1k rows {ms(at_small)}",
                at_large / at_small,
                "<= 1.5",
            )
        )
    first_page = f"/image/list?{PAGED_QUERY}&limit=50"
    deep_page = first_page + deep_cursor(large, PAGED_QUERY, DEEP_PAGE)
    deep, first = p50((large, deep_page), (large, first_page))
    rows.append(
        Row(
            6,
            f"list, {label}: page {DEEP_PAGE:,} by cursor, 100k rows",
            ms(deep),
            f"page 1 {ms(first)}",
            deep / first,
            "<= 1.2",
        )
    )
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()
    return rows


def measure(folder: Path) -> list[Row]:
    sqlite = {count: f"sqlite:///{folder / f'list-{count}.sqlite3'}" for count in (SMALL, LARGE)}
    rows = measure_database("SQLite", sqlite, folder)
    with mysql_database() as small, mysql_database() as large:
        if small is None or large is None:
            print(f"figure 6 on MySQL skipped: {MYSQL_SERVER} is unreachable")
            return rows
        rows += measure_database("MySQL", {SMALL: small, LARGE: large}, folder)
    return rows
