"""Hostile files and requests: a clear 4xx or a safe accept, never a 5xx, never a hang."""

from __future__ import annotations

import io
import socket
import struct
import time
import zipfile
import zlib

import pytest
from PIL import Image
from support import CORPUS, encode, jpeg, noise, png, stored_files, upload
from werkzeug.http import parse_options_header

SECONDS_PER_REQUEST = 10


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header promises a giant picture."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def png_with_text_bomb() -> bytes:
    """A real PNG carrying a zTXt chunk that inflates to 50 MB."""
    data = png()
    bomb = _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * 50_000_000, 9))
    return data[:33] + bomb + data[33:]


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG whose frame header is rewritten to promise a giant picture."""
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(noise((4, 4)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def jpeg_with_looping_exif() -> bytes:
    """EXIF whose Exif and GPS pointers lead back to IFD0: a loop for naive readers."""
    entries = [
        (0x010F, 2, 4, int.from_bytes(b"Bad\0", "little")),
        (0x8769, 4, 1, 8),
        (0x8825, 4, 1, 8),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 8)  # next IFD: itself
    payload = b"Exif\x00\x00" + tiff
    data = jpeg()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def gif_that_is_javascript() -> bytes:
    """Its first bytes read `GIF89a/*` (a comment opening in JavaScript)."""
    picture = Image.new("P", (0x2A2F, 10), 0)
    picture.putpalette([0, 0, 0, 255, 255, 255])
    data = encode(picture, "GIF", comment=b"*/=alert(document.domain);/*")
    assert data.startswith(b"GIF89a/*")
    return data


def jpeg_with_zip_tail() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("payload.html", "<script>alert(1)</script>")
    return jpeg(seed=3) + archive.getvalue()


def many_frames_gif() -> bytes:
    frames = [Image.new("L", (2, 2), shade) for shade in range(256)] * 8
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


HOSTILE = {
    "zero bytes": (b"", "x.jpg"),
    "broken PNG header": ((CORPUS / "broken.png").read_bytes(), "broken.png"),
    "decompression bomb GIF": ((CORPUS / "decompression_bomb.gif").read_bytes(), "bomb.gif"),
    "truncated JPEG": ((CORPUS / "truncated_jpeg.jpg").read_bytes(), "t.jpg"),
    "truncated PNG": ((CORPUS / "truncated_image.png").read_bytes(), "t.png"),
    "truncated WebP": ((CORPUS / "iss634.webp").read_bytes()[:20_000], "t.webp"),
    "truncated AVIF": ((CORPUS / "avif.avif").read_bytes()[:50_000], "t.avif"),
    "truncated HEIC": ((CORPUS / "pug.heic").read_bytes()[:300_000], "t.heic"),
    "corrupted HEIC": ((CORPUS / "corrupted.heic").read_bytes(), "c.heic"),
    "HEIC of 200 megapixels": ((CORPUS / "200MP.heic").read_bytes(), "big.heic"),
    "PNG claiming 100000x100000": (png_claiming(100_000, 100_000), "huge.png"),
    "JPEG claiming 65500x65500": (jpeg_claiming(65_500, 65_500), "huge.jpg"),
    "BMP claiming 100000x100000": (bmp_claiming(100_000, 100_000), "huge.bmp"),
    "PNG with a zTXt bomb": (png_with_text_bomb(), "text.png"),
    "EXIF that loops": (jpeg_with_looping_exif(), "loop.jpg"),
    "JPEG with an HTML tail": (jpeg(seed=2) + b"<html><script>alert(1)</script></html>", "p.jpg"),
    "JPEG with a ZIP tail": (jpeg_with_zip_tail(), "p.jpg"),
    "GIF that is JavaScript": (gif_that_is_javascript(), "p.gif"),
    "GIF of 2048 frames": (many_frames_gif(), "frames.gif"),
    "SVG with a script": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "a.svg",
    ),
    "HTML named .png": (b"<!doctype html><script>alert(1)</script>", "a.png"),
    "TIFF with a strip beyond the file": (encode(noise((64, 64)), "TIFF")[:-2000], "cut.tiff"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_get_a_clear_answer_or_a_safe_home(
    client, tmp_path, storage_dir, instance_dir, case
):
    data, name = HOSTILE[case]

    def elsewhere() -> set:
        """Files outside the store and the node's scratch space."""
        return {
            p
            for p in tmp_path.rglob("*")
            if p.is_file() and not {storage_dir, instance_dir} & set(p.parents)
        }

    before = elsewhere()

    started = time.monotonic()
    response = upload(client, data, name)
    elapsed = time.monotonic() - started

    assert elapsed < SECONDS_PER_REQUEST
    assert response.status_code in (200, 201) or 400 <= response.status_code < 500, response.data
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        assert stored_files(storage_dir) == []
    else:
        record = response.get_json()
        for path in ("", "/details", "/thumbnail", "/base64"):
            assert client.get(f"/image/{record['id']}{path}").status_code == 200, path
        served = client.get(f"/image/{record['id']}")
        assert served.mimetype.startswith("image/")
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in served.headers["Content-Security-Policy"]
    assert elsewhere() == before
    assert [p for p in instance_dir.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("PNG claiming 100000x100000", 413),
        ("JPEG claiming 65500x65500", 413),
        ("BMP claiming 100000x100000", 413),
        ("SVG with a script", 415),
        ("HTML named .png", 415),
        ("PNG with a zTXt bomb", 422),
        ("truncated HEIC", 422),
        ("HEIC of 200 megapixels", 413),
    ],
)
def test_the_answers_say_what_is_wrong(client, case, status):
    data, name = HOSTILE[case]

    assert upload(client, data, name).status_code == status


@pytest.mark.parametrize(
    "name",
    [
        'evil"; filename="x.html',
        "a\\b.jpg",
        "semi;colon, comma.jpg",
        "東京 tower.jpg",
        "%0d%0aSet-Cookie: x=1.jpg",
    ],
)
def test_content_disposition_carries_any_name_safely(client, name):
    record = upload(client, jpeg(seed=7), name).get_json()

    disposition = client.get(f"/image/{record['id']}?download=1").headers["Content-Disposition"]

    kind, options = parse_options_header(disposition)
    assert kind == "attachment"
    # The exact name, made to end in the stored format's extension.
    assert options["filename"] in (record["original_name"], f"{record['original_name']}.jpg")
    assert "\r" not in disposition and "\n" not in disposition


def test_json_and_problem_answers_are_never_taken_for_html(client):
    for path in ("/image/list", "/health", "/image/12345", "/openapi.json"):
        response = client.get(path)
        assert response.mimetype in ("application/json", "application/problem+json")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def raw_request(url: str, head: bytes, body: bytes, *, close_after_body: bool = False) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=SECONDS_PER_REQUEST) as connection:
        connection.sendall(head + body)
        if close_after_body:
            connection.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    body = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + (
            f'; filename="{filename}"' if filename else ""
        )
        body += (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode()


def head(
    length: int, token: str, content_type: str = "multipart/form-data; boundary=b0undary"
) -> bytes:
    return (
        f"POST /image/upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture
def server(live_server):
    return live_server()


def test_multipart_without_a_boundary(server, token, storage_dir, query):
    body = multipart([("image", "a.jpg", jpeg())])

    answer = raw_request(server.url, head(len(body), token, "multipart/form-data"), body)

    assert status_of(answer) == 422
    assert b"application/problem+json" in answer
    assert query("SELECT COUNT(*) FROM images") == [(0,)]


def test_a_part_without_a_filename(server, token, query):
    body = multipart([("image", None, jpeg())])

    answer = raw_request(server.url, head(len(body), token), body)

    assert status_of(answer) == 422
    assert query("SELECT COUNT(*) FROM images") == [(0,)]


def test_a_thousand_parts(server, token, storage_dir, query):
    body = multipart([("image", f"{n}.jpg", b"x") for n in range(1000)])

    answer = raw_request(server.url, head(len(body), token), body)

    assert status_of(answer) == 413
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == []


def test_a_field_other_than_image(server, token, query):
    body = multipart([("photo", "a.jpg", jpeg())])

    answer = raw_request(server.url, head(len(body), token), body)

    assert status_of(answer) == 422
    assert b"image" in answer
    assert query("SELECT COUNT(*) FROM images") == [(0,)]


def test_a_body_cut_off_midway(server, token, storage_dir, query):
    body = multipart([("image", "a.jpg", jpeg(size=(256, 256), quality=100))])

    answer = raw_request(
        server.url, head(len(body), token), body[: len(body) // 2], close_after_body=True
    )

    assert status_of(answer) in (0, 400, 422)  # a 4xx, or the connection simply closed
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    deadline = time.monotonic() + 5
    while stored_files(storage_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_files(storage_dir) == []
