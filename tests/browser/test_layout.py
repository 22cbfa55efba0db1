"""Both pages on a phone and on a desktop, by keyboard, and the README's screenshots.

`SCREENSHOT_DIR=docs .venv/bin/pytest tests/browser/test_layout.py` writes the
screenshots the README shows; otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from support import CORPUS

from .browsing import DESKTOP, PHONE

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

PHOTOS = [
    "ColorfulCups_2560x1600.jpg",
    "exiftool_GPS.jpg",
    "exiv2-nikon-d70.jpg",
    "gps_south_west.jpg",
    "hopper_orientation_3.jpg",
    "avif.avif",
    "RGB_16__128x128.png",
]
PROMPTS = [
    ("a lighthouse at dusk", "watercolor"),
    ("a city of glass towers", None),
    ("a quiet forest lake", "watercolor"),
    ("a red kite over the hills", None),
    ("an orchard in spring", None),
]


def fill_the_gallery(server, token: str) -> int:
    """Some generated pictures, then photos; returns the id of the cups photo."""
    auth = {"Authorization": f"Bearer {token}"}
    for prompt, style in PROMPTS:
        body = {"prompt": prompt, "aspect_ratio": "4:3", **({"style": style} if style else {})}
        job = requests.post(f"{server.url}/image/generate", json=body, headers=auth, timeout=30)
        done = requests.get(f"{server.url}{job.json()['url']}?wait=30", headers=auth, timeout=40)
        assert done.json()["status"] == "succeeded", done.text
    cups = None
    for name in PHOTOS:
        data = (CORPUS / name).read_bytes()
        answer = requests.post(
            f"{server.url}/image/upload", files={"image": (name, data)}, headers=auth, timeout=30
        )
        assert answer.status_code == 201, answer.text
        cups = cups or answer.json()["id"]
    return cups


def wait_for_pictures(page) -> None:
    """Every picture in view has loaded (those further down load lazily)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        """() => [...document.images]
            .filter(img => img.getBoundingClientRect().top < innerHeight)
            .every(img => img.complete && img.naturalWidth > 0)"""
    )


def assert_fits(page) -> None:
    """Nothing sticks out sideways: no horizontal scrolling at this width."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width} px wide in {page.viewport_size}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_both_pages_fit_the_screen(browse, server, make_user, viewport, tmp_path):
    token = make_user("alice")
    cups = fill_the_gallery(server, token)
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    kind = "desktop" if viewport == DESKTOP else "phone"
    visit = browse(server, viewport)
    page = visit.page

    visit.open("/")
    visit.sign_in(token)
    expect(page.locator("#grid .card")).to_have_count(len(PHOTOS) + len(PROMPTS))
    wait_for_pictures(page)
    assert_fits(page)
    page.screenshot(path=shots / f"gallery-{kind}.png")

    visit.open(f"/view/{cups}")
    expect(page.locator("#camera-table")).to_contain_text("SONY")
    wait_for_pictures(page)
    assert_fits(page)
    page.screenshot(path=shots / f"image-page-{kind}.png", full_page=viewport == PHONE)

    pages = {visit.url + "/", f"{visit.url}/view/{cups}"}
    assert {url for url in visit.requests if url in pages} == pages
    assert all(url.startswith(visit.url + "/") for url in visit.requests)


def test_the_gallery_works_from_the_keyboard(visit, api, make_user):
    token = make_user("alice")
    picture = api.upload(token, (CORPUS / "gps_south_west.jpg").read_bytes(), "harbour.jpg")
    page = visit.page
    visit.open("/")
    expect(page.locator("#grid .card")).to_have_count(1)

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    for _ in range(40):  # Tab through the controls to the first picture
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('.card') !== null"):
            break
    else:
        pytest.fail("the pictures cannot be reached with Tab")
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{visit.url}/view/{picture['id']}")
    expect(page.locator("#image-title")).to_have_text("harbour.jpg")
