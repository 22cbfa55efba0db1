"""The bare Flask baseline: the same I/O as the service, and nothing else.

GET /file/<name> sends a file of BASELINE_FOLDER with send_file; POST /upload
parses the multipart body and writes the `image` part to a file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, request, send_file

app = Flask(__name__)
FOLDER = Path(os.environ["BASELINE_FOLDER"])


@app.get("/health")
def health() -> str:
    return "ok"


@app.get("/file/<name>")
def serve(name: str):
    return send_file(FOLDER / Path(name).name)


@app.post("/upload")
def upload() -> tuple[dict, int]:
    request.files["image"].save(FOLDER / "uploads" / secrets.token_hex(16))
    return {"stored": True}, 201
