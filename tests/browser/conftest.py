"""A real headless Chromium (Debian's `chromium`) driven by Playwright, against a
real server (the `live_server` fixture).

Without Chromium these tests are skipped with a note on how to run them;
REQUIRE_BROWSER=1 (set by .ci/run) makes that a failure. Every page may talk to
the server under test only: requests to any other host are blocked (the
browser resolves no other name, and such requests are aborted) and recorded,
and each test fails if there was one, or a Content-Security-Policy violation,
or an uncaught script error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .browsing import DESKTOP, LOCAL, PHONE, Api, Visit, requested_elsewhere

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HOW_TO_RUN = (
    "the browser tests need Chromium: `apt-get install chromium` (Debian/Ubuntu), "
    "or CHROMIUM=/path/to/chromium; REQUIRE_BROWSER=1 turns this skip into a failure"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No other host exists for this browser: every other name fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    """One Chromium for the run; Playwright gives each launch a fresh profile."""
    if not Path(CHROMIUM).is_file():
        message = f"Chromium not found at {CHROMIUM}: {HOW_TO_RUN}"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, chromium_sandbox=False
        )
        yield browser
        browser.close()


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def browse(chromium):
    """`browse(server, viewport)`: a new tab (and browser profile) on that server.
    At the end, the test fails if any tab asked another host for anything, broke
    the Content-Security-Policy, or threw a script error."""
    visits: list[tuple[object, Visit]] = []

    def open_tab(server, viewport: dict = DESKTOP) -> Visit:
        context = chromium.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(15_000)
        page = context.new_page()
        visit = Visit(page, server.url)

        def block(route) -> None:
            visit.foreign.append(route.request.url)
            route.abort("blockedbyclient")

        context.route(lambda address: not LOCAL.match(address), block)
        page.on("request", lambda request: visit.requests.append(request.url))
        page.on("pageerror", lambda error: visit.problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                visit.problems.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        visits.append((context, visit))
        return visit

    yield open_tab
    for context, visit in visits:
        context.close()
        foreign = visit.foreign + requested_elsewhere(visit)
        assert not foreign, f"requests to other hosts: {foreign}"
        assert not visit.problems, visit.problems


@pytest.fixture
def visit(browse, server) -> Visit:
    return browse(server)


@pytest.fixture
def phone_visit(browse, server) -> Visit:
    return browse(server, PHONE)


@pytest.fixture
def api(server) -> Api:
    return Api(server.url)
