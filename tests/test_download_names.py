"""Download names: what a browser, `curl -OJ` and `http --download` save a file as.

`filename*` carries the exact name (browsers read it); curl and httpie read only
the plain `filename`, so that one is a readable ASCII form of the same name. Both
always end with the extension of the format actually stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from support import encode, jpeg, noise, upload
from werkzeug.http import parse_options_header

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

POLYGLOT = jpeg(seed=21) + b"<html><script>alert(document.domain)</script></html>"


def disposition(client, name: str, data: bytes | None = None) -> tuple[int, dict[str, str]]:
    """Upload under `name`; the image's id and its download's Content-Disposition options."""
    response = upload(client, data or jpeg(seed=len(name)), name)
    assert response.status_code == 201, response.get_json()
    image_id = response.get_json()["id"]
    header = client.get(f"/image/{image_id}?download=1").headers["Content-Disposition"]
    kind, _ = parse_options_header(header)
    assert kind == "attachment"
    options = dict(part.strip().split("=", 1) for part in header.split(";")[1:])
    return image_id, options


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("sunset.jpg", "sunset.jpg"),
        ("夏休み.jpg", "XiaXiumi.jpg"),
        ("été à Paris.jpg", '"ete a Paris.jpg"'),
        ("Ångström Straße.JPEG", '"Angstrom Strasse.JPEG"'),
        ("Привет.jpg", "Privet.jpg"),
        ("🎉.jpg", "tada.jpg"),
        ("a:b*c?.jpg", "a_b_c.jpg"),
        ("x.html; y=z", '"x.html y_z.jpg"'),
        ("poly.html", "poly.html.jpg"),
        ("photo.png", "photo.jpg"),  # a JPEG named .png: saved as what it is
    ],
)
def test_the_plain_filename_is_readable_ascii_ending_in_the_stored_format(client, name, plain):
    _, options = disposition(client, name)

    assert options["filename"] == plain
    assert options["filename"].isascii()


def test_the_exact_name_travels_in_filename_star(client):
    _, options = disposition(client, "夏休み.jpg")

    assert options["filename*"] == "UTF-8''%E5%A4%8F%E4%BC%91%E3%81%BF.jpg"


def test_a_polyglot_keeps_its_name_as_metadata_and_downloads_as_a_jpeg(client):
    image_id, options = disposition(client, "poly.html", POLYGLOT)

    assert options == {"filename": "poly.html.jpg"}
    assert client.get(f"/image/{image_id}/details").get_json()["original_name"] == "poly.html"


@pytest.mark.parametrize("name", ["؟؟.jpg", "....jpg", "…", "·.png"])
def test_nothing_readable_left_gives_image_id(client, name):
    image_id, options = disposition(client, name)

    assert options["filename"] == f"image-{image_id}.jpg"


def test_a_png_keeps_its_own_extension(client):
    _, options = disposition(client, "drawing.png", encode(noise(), "PNG"))

    assert options == {"filename": "drawing.png"}


# The real clients, against a real server.

NAMES = {
    "夏休み.jpg": "XiaXiumi.jpg",
    "été à Paris.jpg": "ete a Paris.jpg",
    "Ωμέγα Café.jpeg": "Omega Cafe.jpeg",
    "poly.html": "poly.html.jpg",
    "؟؟.jpg": "image-{id}.jpg",
}


@pytest.fixture
def served(live_server, token):
    """Each name of NAMES uploaded to a real server: {name: (download url, saved name)}."""
    server = live_server()
    urls = {}
    for number, (name, saved) in enumerate(NAMES.items()):
        data = POLYGLOT if name == "poly.html" else jpeg(seed=100 + number)
        response = requests.post(
            f"{server.url}/image/upload",
            files={"image": (name, data)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        image_id = response.json()["id"]
        urls[name] = (f"{server.url}/image/{image_id}?download=1", saved.format(id=image_id))
    return urls


@pytest.mark.parametrize("name", list(NAMES))
def test_curl_dash_oj_saves_under_the_readable_name(served, tmp_path, name):
    url, saved = served[name]
    folder = tmp_path / "saved"
    folder.mkdir()

    done = subprocess.run(
        ["curl", "--silent", "--fail", "-OJ", url], cwd=folder, capture_output=True, timeout=30
    )

    assert done.returncode == 0, done.stderr
    assert [path.name for path in folder.iterdir()] == [saved]


@pytest.mark.parametrize("name", list(NAMES))
def test_httpie_download_saves_under_the_readable_name(served, tmp_path, name):
    url, saved = served[name]
    folder = tmp_path / "saved"
    folder.mkdir()
    httpie = Path(sys.executable).with_name("http")
    # httpie names the download after Content-Disposition only on a terminal.
    terminal, its_other_end = os.openpty()
    try:
        done = subprocess.run(
            [str(httpie), "--ignore-stdin", "--check-status", "--download", url],
            cwd=folder,
            stdout=its_other_end,
            stderr=its_other_end,
            timeout=30,
        )
    finally:
        os.close(terminal)
        os.close(its_other_end)

    assert done.returncode == 0
    assert [path.name for path in folder.iterdir()] == [saved]
