"""The bare Flask baseline: the same I/O as the service, and nothing else.

GET /file/<name> sends a file of BASELINE_FOLDER with send_file; GET
/bucket/<key> streams an object of BASELINE_BUCKET (an S3 bucket reached through
the AWS_* variables) with one GetObject; POST /upload
parses the multipart body and writes the `image` part to a file; POST
/upload-and-decode does that and the work no ingest can skip: decode the
picture, SHA-512 over its pixels, a 256-pixel JPEG thumbnail.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import secrets
from pathlib import Path

import boto3
from flask import Flask, request, send_file
from PIL import Image

app = Flask(__name__)
FOLDER = Path(os.environ["BASELINE_FOLDER"])


@app.get("/health")
def health() -> str:
    return "ok"


@app.get("/file/<name>")
def serve(name: str):
    return send_file(FOLDER / Path(name).name)


@app.get("/bucket/<path:key>")
def serve_object(key: str):
    answer = _s3().get_object(Bucket=os.environ["BASELINE_BUCKET"], Key=key)
    return send_file(answer["Body"], mimetype=answer["ContentType"])


@functools.cache
def _s3():
    return boto3.client("s3")


@app.post("/upload")
def upload() -> tuple[dict, int]:
    request.files["image"].save(FOLDER / "uploads" / secrets.token_hex(16))
    return {"stored": True}, 201


@app.post("/upload-and-decode")
def upload_and_decode() -> tuple[dict, int]:
    path = FOLDER / "uploads" / secrets.token_hex(16)
    request.files["image"].save(path)
    with Image.open(path) as picture:
        picture.load()
        sha512 = hashlib.sha512(picture.tobytes()).hexdigest()
        picture.thumbnail((256, 256))
        picture.save(io.BytesIO(), "JPEG", quality=85)
    return {"sha512": sha512}, 201
