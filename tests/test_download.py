"""Downloading: the original bytes, with the headers a browser and httpie expect."""

from __future__ import annotations

import io
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from support import assert_problem, encode, jpeg, noise, originals, upload


@pytest.fixture
def stored(client):
    data = jpeg(seed=11, size=(120, 80))
    record = upload(client, data, "sunset.jpg").get_json()
    return record, data


def test_download_gives_the_original_bytes_and_metadata_headers(client, stored):
    record, data = stored

    response = client.get(f"/image/{record['id']}")

    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Content-Disposition"] == "inline; filename=sunset.jpg"
    assert response.headers["ETag"]
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_content_type_is_sniffed_never_the_clients_word(client):
    data = encode(noise(), "PNG")
    response = client.post(
        "/image/upload",
        data={"image": (io.BytesIO(data), "fake.jpg", "image/jpeg")},
    )

    download = client.get(response.headers["Location"])

    assert download.headers["Content-Type"] == "image/png"


def test_download_param_makes_it_an_attachment(client, stored):
    record, _ = stored

    response = client.get(f"/image/{record['id']}?download=1")

    assert response.headers["Content-Disposition"] == "attachment; filename=sunset.jpg"


def test_non_ascii_names_use_rfc_6266_filename_star(client):
    record = upload(client, jpeg(seed=3), "été à Paris.jpg").get_json()

    response = client.get(f"/image/{record['id']}?download=true")

    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%C3%A9t%C3%A9%20%C3%A0%20Paris.jpg" in disposition


def test_a_nameless_upload_is_served_under_a_made_up_name(client):
    record = upload(client, jpeg(seed=4), "..").get_json()

    response = client.get(f"/image/{record['id']}")

    assert response.headers["Content-Disposition"] == f"inline; filename=image-{record['id']}.jpg"


def test_conditional_get_with_etag_gives_304(client, stored):
    record, _ = stored
    etag = client.get(f"/image/{record['id']}").headers["ETag"]

    response = client.get(f"/image/{record['id']}", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""


def test_conditional_get_with_last_modified_gives_304(client, stored):
    record, _ = stored
    last_modified = client.get(f"/image/{record['id']}").headers["Last-Modified"]

    response = client.get(f"/image/{record['id']}", headers={"If-Modified-Since": last_modified})

    assert response.status_code == 304


def test_last_modified_is_the_upload_time(client, stored):
    record, _ = stored

    response = client.get(f"/image/{record['id']}")

    uploaded = datetime.fromisoformat(record["uploaded_at"]).replace(microsecond=0)
    assert parsedate_to_datetime(response.headers["Last-Modified"]) == uploaded


def test_range_request_gives_206_and_the_slice(client, stored):
    record, data = stored

    response = client.get(f"/image/{record['id']}", headers={"Range": "bytes=10-19"})

    assert response.status_code == 206
    assert response.data == data[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(data)}"


def test_unsatisfiable_range_gives_416(client, stored):
    record, data = stored

    response = client.get(f"/image/{record['id']}", headers={"Range": f"bytes={len(data) + 5}-"})

    assert response.status_code == 416


@pytest.mark.parametrize("image_id", ["999999", "abc", "-1", "1.5", "99999999999999999999999"])
def test_unknown_or_malformed_id_is_404(client, image_id):
    assert_problem(client.get(f"/image/{image_id}"), 404)


def test_row_whose_file_vanished_is_404_not_500(client, stored, storage_dir):
    record, _ = stored
    [path] = originals(storage_dir)
    path.unlink()

    assert_problem(client.get(f"/image/{record['id']}"), 404, detail_has="missing")


def test_behind_nginx_the_proxy_sends_the_bytes(make_client, storage_dir):
    client = make_client(FILE_OFFLOAD="x-accel-redirect")
    record = upload(client, jpeg(seed=12), "harbour.jpg").get_json()
    sha = record["sha512"]

    original = client.get(f"/image/{record['id']}", headers={"Range": "bytes=0-9"})
    thumbnail = client.get(f"/image/{record['id']}/thumbnail")
    unchanged = client.get(
        f"/image/{record['id']}", headers={"If-None-Match": original.headers["ETag"]}
    )

    # nginx answers the range from the file, with these headers.
    assert original.status_code == 200
    assert original.data == b""
    assert (
        original.headers["X-Accel-Redirect"] == f"/_stored/originals/{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    )
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["Content-Disposition"] == "inline; filename=harbour.jpg"
    assert "default-src 'none'" in original.headers["Content-Security-Policy"]
    assert "X-Sendfile" not in original.headers
    assert thumbnail.headers["X-Accel-Redirect"].startswith(f"/_stored/thumbnails/{sha[:2]}/")
    assert (storage_dir / thumbnail.headers["X-Accel-Redirect"].removeprefix("/_stored/")).is_file()
    assert unchanged.status_code == 304
    assert "X-Accel-Redirect" not in unchanged.headers


def test_behind_apache_x_sendfile_names_the_file(make_client, storage_dir):
    client = make_client(FILE_OFFLOAD="x-sendfile")
    data = jpeg(seed=13)
    record = upload(client, data, "field.jpg").get_json()

    response = client.get(f"/image/{record['id']}")
    ranged = client.get(f"/image/{record['id']}", headers={"Range": "bytes=0-9"})

    assert response.data == b""
    assert Path(response.headers["X-Sendfile"]).read_bytes() == data
    # The server in front answers the range from the file, not from this empty body.
    assert ranged.status_code == 200
    assert "Content-Range" not in ranged.headers
    assert response.headers["X-Sendfile"].startswith(str(storage_dir))


def test_a_relative_storage_location_is_taken_from_the_working_directory(
    make_client, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    client = make_client(FILE_STORAGE_LOCATION="relative-store")
    data = jpeg(seed=14)
    record = upload(client, data).get_json()

    assert client.get(f"/image/{record['id']}").data == data
    assert client.get(f"/image/{record['id']}/thumbnail").status_code == 200
    assert originals(tmp_path / "relative-store")
