"""/docs in a real browser with every other host out of reach."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems


def test_docs_render_every_operation_offline(visit, api):
    spec = api.get("/openapi.json").json()
    operations = [(m.upper(), p) for p, item in spec["paths"].items() for m in item]
    page = visit.page

    response = page.goto(visit.url + "/docs")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "http" not in policy
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(operations))
    for method, path in operations:
        block = blocks.filter(has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))
        expect(block.locator(".opblock-summary-method", has_text=method)).to_have_count(1)
    expect(page.get_by_role("heading", name="image-repo")).to_be_visible()
    assert visit.requests and all(url.startswith(visit.url) for url in visit.requests)


def test_try_it_out_sends_the_galleries_token(visit, api, make_user):
    token = make_user("alice")
    page = visit.page
    visit.open("/")
    visit.sign_in(token)

    visit.open("/docs#/Tokens/get_tokens")
    operation = page.locator("#operations-Tokens-get_tokens")
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table tbody .response-col_status")
    expect(status).to_have_text("200")
