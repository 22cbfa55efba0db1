"""Deleting: row first, then file; gone means gone."""

from __future__ import annotations

from support import assert_problem, jpeg, originals, stored_files, upload


def test_delete_removes_row_file_and_thumbnails(client, storage_dir, query):
    record = upload(client, jpeg(seed=1)).get_json()
    kept = upload(client, jpeg(seed=2)).get_json()
    assert client.get(f"/image/{record['id']}/thumbnail?size=64").status_code == 200

    response = client.delete(f"/image/{record['id']}")

    assert response.status_code == 204
    assert response.data == b""
    assert query("SELECT id FROM images WHERE id = :id", id=record["id"]) == []
    assert [path.name for path in stored_files(storage_dir) if record["sha512"] in path.name] == []
    assert [path.name for path in originals(storage_dir)] == [f"{kept['sha512']}.jpg"]
    assert_problem(client.get(f"/image/{record['id']}"), 404)


def test_second_delete_is_404(client):
    record = upload(client, jpeg()).get_json()
    client.delete(f"/image/{record['id']}")

    assert_problem(client.delete(f"/image/{record['id']}"), 404)


def test_delete_when_the_file_is_already_gone_still_succeeds(client, storage_dir, query):
    record = upload(client, jpeg()).get_json()
    [path] = originals(storage_dir)
    path.unlink()

    assert client.delete(f"/image/{record['id']}").status_code == 204
    assert query("SELECT COUNT(*) FROM images") == [(0,)]


def test_a_deleted_picture_can_be_uploaded_again(client, storage_dir):
    data = jpeg()
    first = upload(client, data).get_json()
    client.delete(f"/image/{first['id']}")

    again = upload(client, data)

    assert again.status_code == 201
    assert again.get_json()["id"] != first["id"]
    assert [p.read_bytes() for p in originals(storage_dir)] == [data]


def test_delete_unknown_or_malformed_id_is_404(client):
    assert_problem(client.delete("/image/424242"), 404)
    assert_problem(client.delete("/image/not-a-number"), 404)
