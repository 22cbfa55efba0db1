"""The gallery at `/` in a real browser: browse, scroll, filter, upload, generate."""

from __future__ import annotations

import re

import pytest
from fake_gemini import API_KEY, safety_block
from playwright.sync_api import expect
from support import CORPUS, jpeg, png

from .browsing import Api

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems


def card_ids(page) -> list[int]:
    return [
        int(i) for i in page.locator("#grid .card").evaluate_all("cs => cs.map(c => c.dataset.id)")
    ]


BY = "\N{MULTIPLICATION SIGN}"  # as the pages write sizes


def list_requests(visit) -> list[str]:
    return [url for url in visit.requests if "/image/list?" in url]


def test_browsing_shows_every_picture_newest_first_and_scrolling_loads_more(
    phone_visit, api, make_user
):
    token = make_user("alice")
    uploaded = [api.upload(token, jpeg(seed), f"picture-{seed}.jpg")["id"] for seed in range(30)]
    page = phone_visit.page
    thumbnails = []
    page.on(
        "response",
        lambda r: thumbnails.append(r.headers["content-type"]) if "/thumbnail" in r.url else None,
    )

    phone_visit.open("/?limit=12")

    expect(page.locator("#grid .card")).to_have_count(12)
    page.wait_for_load_state("networkidle")
    assert card_ids(page) == uploaded[::-1][:12]  # nothing more until the reader scrolls
    assert len(list_requests(phone_visit)) == 1

    for expected in (24, 30):  # each scroll to the end brings the next page
        page.locator("#more").scroll_into_view_if_needed()
        expect(page.locator("#grid .card")).to_have_count(expected)
    assert card_ids(page) == uploaded[::-1]
    later = list_requests(phone_visit)[1:]
    assert len(later) == 2 and all("cursor=" in url for url in later)
    expect(page.locator("#list-status")).to_have_text("30 images.")
    expect(page.locator("#more")).to_be_hidden()

    first = page.locator("#grid .card img").first
    first.scroll_into_view_if_needed()
    expect(first).to_have_attribute("alt", f"Picture picture-29.jpg, 64 {BY} 48 JPEG")
    srcset = first.get_attribute("srcset")
    assert f"/image/{uploaded[-1]}/thumbnail?size=64 64w" in srcset  # never enlarged: one 64w
    phone_visit.wait_until_shown(first)
    assert thumbnails and set(thumbnails) == {"image/avif"}  # Chromium takes AVIF
    link = page.locator("#grid .card a").first
    assert link.get_attribute("href") == f"/view/{uploaded[-1]}"


def test_filters_narrow_the_grid_and_live_in_the_url(visit, api, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    cups = api.upload(alice, (CORPUS / "ColorfulCups_2560x1600.jpg").read_bytes(), "cups.jpg")
    drawing = api.upload(alice, png(1), "drawing.png")
    bobs = api.upload(bob, jpeg(2), "bobs-photo.jpg")
    page = visit.page
    visit.open("/")
    expect(page.locator("#grid .card")).to_have_count(3)

    page.get_by_label("Format").select_option("PNG")
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"\?format=PNG$"))
    expect(page.locator("#grid .card")).to_have_count(1)
    assert card_ids(page) == [drawing["id"]]

    page.get_by_label("Format").select_option("")
    page.get_by_label("Camera make").fill("sony")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"\?camera_make=sony$"))
    expect(page.locator("#grid .card")).to_have_count(1)
    assert card_ids(page) == [cups["id"]]

    page.reload()  # the URL alone brings the filter back, in the control too
    expect(page.get_by_label("Camera make")).to_have_value("sony")
    expect(page.locator("#grid .card")).to_have_count(1)

    page.go_back()
    expect(page.get_by_label("Format")).to_have_value("PNG")
    expect(page.locator("#grid .card")).to_have_count(1)
    assert card_ids(page) == [drawing["id"]]

    visit.open("/?name=photo")
    expect(page.get_by_label("Name")).to_have_value("photo")
    expect(page.locator("#grid .card")).to_have_count(1)
    assert card_ids(page) == [bobs["id"]]

    visit.open("/")
    visit.sign_in(alice)
    page.get_by_label("Only mine").check()
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"\?owner=me$"))
    expect(page.locator("#grid .card")).to_have_count(2)
    assert sorted(card_ids(page)) == sorted([cups["id"], drawing["id"]])

    visit.open("/?taken_after=2014-04-29&taken_before=2014-04-30")
    expect(page.locator("#grid .card")).to_have_count(1)
    assert card_ids(page) == [cups["id"]]

    visit.open("/?format=JPEG&source=generated")
    expect(page.locator("#list-status")).to_have_text("No images match these filters.")


def test_a_filter_the_api_refuses_shows_the_servers_reason(visit):
    visit.open("/?colour=red")

    expect(visit.page.locator("#list-status")).to_contain_text("colour: Unknown field.")


def test_upload_two_pictures_and_a_refused_file(visit, api, make_user, tmp_path):
    token = make_user("alice")
    page = visit.page
    visit.open("/")
    expect(page.locator("#file-input")).to_be_disabled()  # no token yet
    expect(page.locator("#token-hint")).to_be_visible()
    visit.sign_in(token)
    expect(page.locator("#token-hint")).to_be_hidden()

    files = {
        "sunrise.jpg": jpeg(11, size=(900, 600)),
        "hopper.jpg": (CORPUS / "hopper_orientation_3.jpg").read_bytes(),
        "notes.txt": b"not a picture at all\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    page.locator("#file-input").set_input_files([tmp_path / name for name in files])

    results = page.locator("#upload-results .result")
    expect(results).to_have_count(3)
    for name in files:
        expect(results.filter(has_text=name)).to_have_attribute(
            "data-state", re.compile("stored|refused")
        )
    refused = results.filter(has_text="notes.txt")
    expect(refused).to_have_attribute("data-state", "refused")
    expect(refused.locator(".outcome")).to_contain_text("Refused: Rejected: not an image")
    stored = {}
    for name in ("sunrise.jpg", "hopper.jpg"):
        result = results.filter(has_text=name)
        expect(result).to_have_attribute("data-state", "stored")
        expect(result.locator(".outcome")).to_contain_text("Stored.")
        expect(result.locator("progress")).to_have_js_property("value", 100)
        stored[name] = int(
            result.get_by_role("link", name="Open").get_attribute("href").split("/")[-1]
        )
    for name, image_id in stored.items():
        assert api.get(f"/image/{image_id}").content == files[name]
    expect(page.locator("#grid .card")).to_have_count(2)
    assert sorted(card_ids(page)) == sorted(stored.values())

    page.locator("#file-input").set_input_files(tmp_path / "sunrise.jpg")  # once more
    again = results.first
    expect(again).to_have_attribute("data-state", "yours")
    expect(again.locator(".outcome")).to_contain_text("Already yours.")
    link = again.get_by_role("link", name="Open it")
    assert link.get_attribute("href") == f"/view/{stored['sunrise.jpg']}"
    link.click()
    expect(page.locator("#image-title")).to_have_text("sunrise.jpg")


def test_generation_with_the_local_backend_until_its_picture_shows(visit, api, make_user):
    token = make_user("alice")
    page = visit.page
    visit.open("/")
    visit.sign_in(token)

    page.get_by_label("Prompt").fill("a lighthouse at dusk")
    expect(page.get_by_label("Style").locator("option[value=watercolor]")).to_have_count(1)
    page.get_by_label("Style").select_option("watercolor")
    page.get_by_label("Aspect ratio").select_option("16:9")
    page.get_by_role("button", name="Generate").click()

    job = page.locator("#jobs .result").first
    expect(job).to_contain_text("a lighthouse at dusk")
    expect(job).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(job.locator("progress")).to_have_js_property("value", 100)
    expect(job).to_contain_text("placeholder")  # the local backend says what it is
    image_id = int(job.get_by_role("link", name="Open").get_attribute("href").split("/")[-1])
    card = page.locator(f'#grid .card[data-id="{image_id}"]')
    expect(card).to_be_visible()
    image = card.locator("img")
    expect(image).to_have_attribute("alt", re.compile(rf"^Generated picture .*, \d+ {BY} \d+ PNG$"))
    visit.wait_until_shown(image)
    width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert abs(width / height - 16 / 9) < 0.02

    card.locator("a").click()
    provenance = page.locator("#provenance-table")
    expect(provenance).to_contain_text("a lighthouse at dusk")
    expect(provenance).to_contain_text("watercolor")
    assert api.get(f"/image/{image_id}/details").json()["source"] == "generated"


def test_a_failed_generation_shows_its_reason(browse, live_server, make_user, fake_gemini):
    fake_gemini.script(safety_block())
    server = live_server(GEMINI_API_KEY=API_KEY, GEMINI_BASE_URL=fake_gemini.url)
    token = make_user("alice")
    visit = browse(server)
    page = visit.page
    visit.open("/")
    visit.sign_in(token)
    page.get_by_label("Prompt").fill("something the model will not draw")
    page.get_by_role("button", name="Generate").click()

    job = page.locator("#jobs .result").first
    expect(job).to_have_attribute("data-state", "failed", timeout=30_000)
    expect(job.locator(".outcome")).to_contain_text("Failed:")
    expect(job.locator(".outcome")).to_contain_text("(safety_block)")
    expect(page.locator("#grid .card")).to_have_count(0)


def test_without_public_reads_the_token_fetches_the_pictures(browse, live_server, make_user):
    server = live_server(PUBLIC_READ="false")
    token = make_user("alice")
    api = Api(server.url)
    picture = api.upload(token, jpeg(5, size=(320, 240)), "private.jpg")
    visit = browse(server)
    page = visit.page

    visit.open("/")
    expect(page.locator("#list-status")).to_contain_text("needs an API token")
    visit.sign_in(token)

    image = page.locator(f'#grid .card[data-id="{picture["id"]}"] img')
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    visit.wait_until_shown(image)
    image.click()
    expect(page.locator("#image-title")).to_have_text("private.jpg")
    large = page.locator("#large-image")
    expect(large).to_have_attribute("src", re.compile(r"^blob:"))
    with page.expect_download() as started:
        page.get_by_role("link", name="Download original").click()
    assert started.value.path().read_bytes() == api.get(f"/image/{picture['id']}", token).content
