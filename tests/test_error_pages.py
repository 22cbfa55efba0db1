"""Errors are pages for browsers and problem+json for everyone else."""

from __future__ import annotations

import pytest
from support import assert_problem

BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


def test_a_browser_gets_an_error_page(anonymous):
    response = anonymous.get("/image/424242", headers={"Accept": BROWSER_ACCEPT})

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Not Found" in page
    assert "There is no image with id 424242." in page
    assert 'href="/"' in page  # a way back to the gallery
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_an_error_page_keeps_the_answers_headers(anonymous):
    response = anonymous.get("/tokens", headers={"Accept": BROWSER_ACCEPT})

    assert response.status_code == 401
    assert response.mimetype == "text/html"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_page_escapes_what_the_client_sent(anonymous):
    response = anonymous.get(
        "/image/list?name=<script>alert(1)</script>&bogus=1", headers={"Accept": BROWSER_ACCEPT}
    )

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page
    assert "bogus" in page


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "application/json, */*;q=0.5", "application/problem+json"],
)
def test_api_clients_keep_getting_problem_json(anonymous, accept):
    headers = {"Accept": accept} if accept else {}

    response = anonymous.get("/image/424242", headers=headers)

    assert_problem(response, 404, detail_has="no image with id 424242")
