"""`flask images rebuild-thumbnails`: thumbnails made before colour management
are made again; originals are never touched."""

from __future__ import annotations

import fcntl
import io
import os
import struct
import subprocess
import sys
import termios

from PIL import Image
from support import encode, jpeg, noise, stored_files, upload
from test_colour import MAX_SATURATION_CHANGE, adobe_rgb, compare, in_srgb


def thumbnail_files(storage_dir) -> list:
    return [path for path in stored_files(storage_dir) if path.parts[-4] == "thumbnails"]


def made_the_old_way(data: bytes) -> bytes:
    """A 256 thumbnail as the service made it before: the profile dropped."""
    picture = Image.open(io.BytesIO(data))
    picture.thumbnail((256, 256))
    return encode(picture.convert("RGB"), "JPEG", quality=85)


def test_old_thumbnails_are_made_again_in_srgb(app, client, storage_dir):
    data = adobe_rgb("JPEG")
    record = upload(client, data, "adobe.jpg").get_json()
    client.get(f"/image/{record['id']}/thumbnail?size=64&format=webp")
    [default] = [path for path in thumbnail_files(storage_dir) if path.name.endswith("-256.jpg")]
    default.write_bytes(made_the_old_way(data))
    other = upload(client, jpeg(seed=5), "other.jpg").get_json()
    original_files = {
        path: path.read_bytes() for path in stored_files(storage_dir) if "originals" in path.parts
    }

    result = app.test_cli_runner().invoke(args=["images", "rebuild-thumbnails"])

    assert result.exit_code == 0, result.output
    assert "2/2" in result.output  # progress, as plain lines off a terminal
    assert "2 rebuilt" in result.output
    names = sorted(path.name for path in thumbnail_files(storage_dir))
    assert names == sorted([f"{record['sha512']}-256.jpg", f"{other['sha512']}-256.jpg"])
    thumbnail = in_srgb(default.read_bytes())
    reference = in_srgb(data).resize(thumbnail.size, Image.Resampling.BICUBIC)
    _, saturation = compare(thumbnail, reference)
    assert abs(saturation - 1) < MAX_SATURATION_CHANGE
    assert {path: path.read_bytes() for path in original_files} == original_files


def test_a_picture_with_transparency_gets_a_png(app, client, storage_dir):
    record = upload(client, encode(noise(mode="RGBA"), "PNG"), "a.png").get_json()
    for path in thumbnail_files(storage_dir):
        path.unlink()

    result = app.test_cli_runner().invoke(args=["images", "rebuild-thumbnails"])

    assert result.exit_code == 0, result.output
    assert [path.name for path in thumbnail_files(storage_dir)] == [f"{record['sha512']}-256.png"]


def test_an_original_gone_missing_is_reported_and_the_rest_rebuilt(app, client, storage_dir):
    gone = upload(client, jpeg(seed=1), "gone.jpg").get_json()
    kept = upload(client, jpeg(seed=2), "kept.jpg").get_json()
    for path in stored_files(storage_dir):
        if path.name.startswith(gone["sha512"]):
            path.unlink()

    result = app.test_cli_runner().invoke(args=["images", "rebuild-thumbnails"])

    assert result.exit_code == 1
    assert f"image {gone['id']}" in result.output
    assert "1 rebuilt, 1 failed" in result.output
    assert [path.name for path in thumbnail_files(storage_dir)] == [f"{kept['sha512']}-256.jpg"]


def test_on_a_terminal_it_shows_a_progress_bar(make_app, client, migrated_database, storage_dir):
    upload(client, jpeg(seed=3), "a.jpg")
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    terminal, its_other_end = os.openpty()
    fcntl.ioctl(its_other_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80x24
    try:
        done = subprocess.run(
            [flask, "--app", "image_repo", "images", "rebuild-thumbnails"],
            env={
                **os.environ,
                "DATABASE_URL": migrated_database,
                "FILE_STORAGE_LOCATION": str(storage_dir),
            },
            stdin=its_other_end,
            stdout=its_other_end,
            stderr=its_other_end,
            timeout=60,
        )
        os.close(its_other_end)
        screen = b""
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(terminal)

    assert done.returncode == 0, screen
    assert b"100%" in screen and b"1/1" in screen  # tqdm's bar
    assert b"1 rebuilt" in screen
