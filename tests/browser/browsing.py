"""What the browser tests share: a tab on the server under test, and the API."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

LOCAL = re.compile(r"^(?:https?|wss?)://127\.0\.0\.1(?::\d+)?/")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Visit:
    """A browser tab on the server under test, and what it asked for."""

    page: object
    url: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(self.url + path)

    def sign_in(self, token: str) -> None:
        """Paste the token into the header's field, as a person would."""
        page = self.page
        page.locator("#token-summary").click()
        page.locator("#token-input").fill(token)
        page.get_by_role("button", name="Save").click()
        page.locator("#token-status").get_by_text("Token accepted").wait_for()
        page.locator("#token-summary").click()

    def wait_until_shown(self, image) -> None:
        """The <img> has loaded a picture."""
        self.page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )


def requested_elsewhere(visit: Visit) -> list[str]:
    """Requests the page made to any other host (data: and blob: stay inside)."""
    return [
        url
        for url in visit.requests
        if not LOCAL.match(url) and urlsplit(url).scheme not in ("data", "blob")
    ]


class Api:
    """The JSON API, to set the scene and to check what the pages did."""

    def __init__(self, url: str) -> None:
        self.url = url

    def upload(self, token: str, data: bytes, name: str) -> dict:
        response = requests.post(
            f"{self.url}/image/upload",
            files={"image": (name, data)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.url}{path}", headers=headers, timeout=30)
