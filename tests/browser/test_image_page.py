"""One image's page in a real browser: the picture, camera, GPS, similar, delete."""

from __future__ import annotations

import pytest
from PIL import Image
from playwright.sync_api import expect
from support import CORPUS, encode, jpeg

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems


def row(table, label: str):
    """The table's row whose header is exactly `label`."""
    return table.locator("tr", has=table.page.get_by_role("rowheader", name=label, exact=True))


def upload_cups(api, token: str) -> dict:
    return api.upload(token, (CORPUS / "ColorfulCups_2560x1600.jpg").read_bytes(), "cups.jpg")


def test_the_page_shows_the_picture_its_camera_and_where_it_was_taken(visit, api, make_user):
    cups = upload_cups(api, make_user("alice"))
    page = visit.page

    visit.open(f"/view/{cups['id']}")

    expect(page.locator("#image-title")).to_have_text("cups.jpg")
    large = page.locator("#large-image")
    visit.wait_until_shown(large)
    assert large.evaluate("img => img.naturalWidth") >= 512  # a large view, not a thumbnail
    expect(large).to_have_attribute(
        "alt", "Picture cups.jpg, 2560 \N{MULTIPLICATION SIGN} 1600 JPEG"
    )
    camera = page.locator("#camera-table")
    expect(row(camera, "Camera")).to_contain_text("SONY NEX-3N")
    expect(row(camera, "Exposure")).to_contain_text(
        "1/640 s \N{MIDDLE DOT} f/8 \N{MIDDLE DOT} ISO 400 \N{MIDDLE DOT} 28 mm"
    )
    expect(row(camera, "Taken")).to_contain_text("2014-04-29 14:25:26")
    location = row(camera, "Location")
    expect(location).to_contain_text("56.15600\N{DEGREE SIGN} N, 10.20820\N{DEGREE SIGN} E")
    map_link = location.get_by_role("link", name="Show on a map")
    assert "mlat=56.155995" in map_link.get_attribute("href")
    expect(page.locator("#record-table")).to_contain_text("2560 \N{MULTIPLICATION SIGN} 1600")
    expect(page.locator("#record-table")).to_contain_text("alice")
    expect(page.locator("#provenance-section")).to_be_hidden()

    download = page.get_by_role("link", name="Download original")
    with page.expect_download() as started:
        download.click()
    saved = started.value
    assert saved.suggested_filename == "cups.jpg"
    assert saved.path().read_bytes() == (CORPUS / "ColorfulCups_2560x1600.jpg").read_bytes()

    page.get_by_text("All EXIF tags").click()
    gps = page.locator("#exif-tables table", has=page.locator("caption", has_text="GPS"))
    expect(gps).to_contain_text("GPSLatitude")


def test_edited_copies_are_shown_as_similar_images(visit, api, make_user):
    token = make_user("alice")
    cups = upload_cups(api, token)
    with Image.open(CORPUS / "ColorfulCups_2560x1600.jpg") as photo:
        small = encode(photo.resize((640, 400)), quality=60)
    copy = api.upload(token, small, "cups-small.jpg")
    other = api.upload(token, jpeg(1, size=(300, 200)), "noise.jpg")
    page = visit.page

    visit.open(f"/view/{cups['id']}")

    expect(page.locator("#similar-section")).to_be_visible()
    cards = page.locator("#similar-grid .card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("cups-small.jpg (distance")
    assert cards.first.locator("a").first.get_attribute("href").endswith(f"/view/{copy['id']}")

    visit.open(f"/view/{other['id']}")

    expect(page.locator("#similar-status")).to_have_text("No similar images.")


def test_the_owner_deletes_the_image_after_confirming(visit, api, make_user):
    token = make_user("alice")
    cups = upload_cups(api, token)
    page = visit.page
    visit.open(f"/view/{cups['id']}")
    expect(page.get_by_role("button", name="Delete…")).to_be_hidden()  # no token
    visit.sign_in(token)

    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert api.get(f"/image/{cups['id']}").status_code == 200

    page.get_by_role("button", name="Delete…").click()
    page.keyboard.press("Tab")  # from Cancel (the default) to Delete
    page.keyboard.press("Enter")

    expect(page.locator("#image-status")).to_contain_text(f"Image {cups['id']} was deleted.")
    expect(page.locator("#image-body")).to_be_hidden()
    assert api.get(f"/image/{cups['id']}").status_code == 404


def test_someone_elses_image_is_not_deleted(visit, api, make_user):
    cups = upload_cups(api, make_user("alice"))
    page = visit.page
    visit.open(f"/view/{cups['id']}")
    visit.sign_in(make_user("bob"))

    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()

    expect(page.locator("#image-status")).to_have_text(
        "Not deleted: Only the image's owner or an admin may delete it."
    )
    assert api.get(f"/image/{cups['id']}").status_code == 200


def test_a_missing_image_says_so(visit):
    visit.open("/view/424242")

    expect(visit.page.locator("#image-status")).to_have_text("There is no image with id 424242.")


def test_a_browser_opening_a_missing_file_gets_an_error_page(visit):
    response = visit.page.goto(visit.url + "/image/424242")

    assert response.status == 404
    expect(visit.page.get_by_role("heading")).to_have_text("404 Not Found")
    expect(visit.page.get_by_text("There is no image with id 424242.")).to_be_visible()
