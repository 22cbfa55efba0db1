"""The whole API fuzzed from its own OpenAPI spec with schemathesis.

Every operation gets FUZZ_EXAMPLES generated requests (200 by default), valid
and invalid; then sequences follow the links schemathesis infers (upload or
list, then download, details, thumbnail, base64 or delete of those images).
Every answer must be no 5xx and match the spec: a documented status code,
content type, headers and body schema.

Schemathesis draws what the spec allows and a little past it; the last test
searches what it never draws: calendar extremes, lone surrogates, control
characters and bytes that are not UTF-8, and deep nesting, in every parameter,
every JSON field, whole bodies and upload file names.

The suite draws the same examples on every run (Hypothesis' derandomize), so
that it passes or fails for the code, not for the draw. To search further,
FUZZ_RANDOM=1 draws new ones each run, e.g.

    FUZZ_RANDOM=1 FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/test_fuzz.py
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, quote_from_bytes

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text
from support import PROBLEM_JSON, jpeg, png

from image_repo import accounts, create_app
from image_repo.models import db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SEQUENCES = int(os.environ.get("FUZZ_SEQUENCES", "100"))
FIXED_DRAW = os.environ.get("FUZZ_RANDOM") != "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


STARTING_PICTURES = {"photo.jpg": jpeg(seed=1), "cut-out.png": png(seed=2, mode="RGBA")}


def _spec() -> dict:
    """The OpenAPI spec (no database needed)."""
    with tempfile.TemporaryDirectory() as storage:
        app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "FILE_STORAGE_LOCATION": storage})
        return app.spec


SPEC = _spec()


def _operations() -> list[str]:
    """Every operation in the spec, e.g. "GET /image/{image_id}"."""
    return [f"{method.upper()} {path}" for path, item in SPEC["paths"].items() for method in item]


@pytest.fixture
def app(make_app):
    """The rate limit would turn generated POSTs into 429s part way through,
    and the token cap every request past the hundredth (each gets a token)."""
    return make_app(
        GENERATION_RATE_LIMIT="1000000/minute",
        UPLOAD_RATE_LIMIT="1000000/minute",
        MAX_TOKENS_PER_USER=1_000_000,
    )


@pytest.fixture
def api(app, make_user):
    make_user("fuzzer")
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture
def fresh_token(app):
    """A token of its own for every request: a generated DELETE /tokens/<id>
    may revoke the token it was sent with."""

    def make() -> dict[str, str]:
        with app.app_context():
            _, secret = accounts.create_token(accounts.find_user("fuzzer"), "fuzz")
            db.session.remove()
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.mark.parametrize("operation", _operations())
def test_every_answer_matches_the_spec(api, fresh_token, operation):
    target = api.find_operation_by_label(operation)
    cases = st.one_of(target.as_strategy(mode) for mode in GenerationMode)

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        derandomize=FIXED_DRAW,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def answer_matches_the_spec(case) -> None:
        case.call_and_validate(headers=fresh_token(), checks=CHECKS)

    answer_matches_the_spec()


def test_sequences_of_calls_match_the_spec(app, api, fresh_token, storage_dir):
    # Hypothesis replays sequences and expects the same answers: generation,
    # whose jobs end on another thread, is left to the single-call fuzzing.
    synchronous = api.exclude(tag="Generation")

    class Sequences(synchronous.as_state_machine()):
        def setup(self) -> None:
            """Each sequence starts from the same two pictures and no tokens
            but its own, under the same ids, as Hypothesis replays sequences
            and expects the same answers to the same calls (and random bytes
            are seldom a picture to follow links from)."""
            with app.app_context():
                db.session.execute(text("DELETE FROM images"))
                db.session.execute(text("DELETE FROM api_tokens"))
                _restart_ids("images", "api_tokens")
                db.session.commit()
                db.session.remove()
            for folder in ("originals", "thumbnails"):
                shutil.rmtree(storage_dir / folder, ignore_errors=True)
            client = app.test_client()
            for name, data in STARTING_PICTURES.items():
                files = {"image": (io.BytesIO(data), name)}
                answer = client.post("/image/upload", data=files, headers=fresh_token())
                assert answer.status_code == 201

        def get_call_kwargs(self, case) -> dict:
            return {"headers": fresh_token()}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Sequences.run(
        settings=settings(
            max_examples=SEQUENCES,
            derandomize=FIXED_DRAW,
            stateful_step_count=6,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def _restart_ids(*tables: str) -> None:
    """The next row of each (emptied) table gets the id its first row got."""
    for table in tables:
        if db.session.get_bind().dialect.name == "sqlite":
            db.session.execute(text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        else:
            db.session.execute(text(f"ALTER TABLE {table} AUTO_INCREMENT = 1"))


# What schemathesis never draws. Hypothesis' text leaves out surrogates, its
# dates stay in the middle of the calendar, and a spec's strings never nest.
OFFSETS = [timezone(timedelta(hours=hours)) for hours in (-14, -12, -1, 0, 1, 12, 14)]
CALENDAR_EDGES = st.one_of(
    st.datetimes(max_value=datetime(1, 1, 2), timezones=st.sampled_from(OFFSETS)),
    st.datetimes(min_value=datetime(9999, 12, 30), timezones=st.sampled_from(OFFSETS)),
    st.datetimes(max_value=datetime(1, 1, 2)),
    st.datetimes(min_value=datetime(9999, 12, 30)),
).map(datetime.isoformat)
ODD_TEXT = st.text(
    st.one_of(
        st.characters(categories=["Cs"]),  # lone surrogates
        st.characters(categories=["Cc", "Cf", "Zl", "Zp"]),  # controls, NUL, bidi marks
        st.characters(),
    ),
    min_size=1,
    max_size=20,
)
DEPTHS = st.sampled_from([2, 100, 999, 1450, 5000, 100_000])
NESTED = DEPTHS.map(lambda depth: "[" * depth + "]" * depth)
HOSTILE_TEXT = st.one_of(
    CALENDAR_EDGES,
    ODD_TEXT,
    NESTED,
    NESTED.map(lambda text: base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")),
    st.sampled_from(["NaN", "-Infinity", "1e999", str(2**63), "-0", "\x00"]),
)
# Bytes as they come in a URL: anything percent-encoded, UTF-8 or not.
URL_BYTES = st.one_of(
    HOSTILE_TEXT.map(lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="")),
    st.binary(min_size=1, max_size=12).map(lambda data: quote_from_bytes(data, safe="")),
)
# JSON text for a field's value (or a whole body): escapes, deep nesting, odd numbers.
JSON_VALUES = st.one_of(
    HOSTILE_TEXT.map(json.dumps),
    NESTED,
    DEPTHS.map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.sampled_from(["NaN", "-Infinity", "1e999", str(10**30), "null", "true", "[]", "{}"]),
)


def _hostile_requests() -> st.SearchStrategy[dict]:
    """One request per draw: an operation of the spec with one input made hostile."""
    choices = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                choices.append(_with_parameter(method, path, parameter))
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                choices.append(_with_json_field(method, path, content["application/json"]))
            if "multipart/form-data" in content:
                choices.append(_with_upload_name(method, path))
    return st.one_of(choices)


def _with_parameter(method: str, path: str, parameter: dict) -> st.SearchStrategy[dict]:
    def build(value: str) -> dict:
        if parameter["in"] == "path":
            url = path.replace("{" + parameter["name"] + "}", value)
        else:
            url = f"{path.replace('{image_id}', '1').replace('{token_id}', '1')}"
            url = url.replace("{job_id}", "0" * 32) + f"?{parameter['name']}={value}"
        return {"method": method, "path": url}

    return URL_BYTES.map(build)


def _with_json_field(method: str, path: str, content: dict) -> st.SearchStrategy[dict]:
    name = content["schema"]["$ref"].rsplit("/", 1)[1]
    schema = SPEC["components"]["schemas"][name]
    required = {field: "x" for field in schema.get("required", [])}

    def build(field: str, value: str) -> dict:
        others = ", ".join(
            f"{json.dumps(k)}: {json.dumps(v)}" for k, v in required.items() if k != field
        )
        body = "{" + ", ".join(filter(None, [f"{json.dumps(field)}: {value}", others])) + "}"
        return {"method": method, "path": path, "data": body, "content_type": "application/json"}

    fields = st.sampled_from(sorted(schema["properties"])) | ODD_TEXT
    whole_bodies = JSON_VALUES.map(
        lambda body: {
            "method": method,
            "path": path,
            "data": body,
            "content_type": "application/json",
        }
    )
    return st.builds(build, fields, JSON_VALUES) | whole_bodies


def _with_upload_name(method: str, path: str) -> st.SearchStrategy[dict]:
    def build(name: bytes) -> dict:
        body = (
            b'--b\r\nContent-Disposition: form-data; name="image"; filename="'
            + name
            + b'"\r\nContent-Type: image/jpeg\r\n\r\n'
            + STARTING_PICTURES["photo.jpg"]
            + b"\r\n--b--\r\n"
        )
        return {
            "method": method,
            "path": path,
            "data": body,
            "content_type": "multipart/form-data; boundary=b",
        }

    names = st.one_of(
        HOSTILE_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.binary(min_size=1, max_size=30),
    ).map(lambda name: name.replace(b'"', b"").replace(b"\r", b"").replace(b"\n", b""))
    return names.map(build)


def test_hostile_inputs_are_never_a_server_error(app, api, fresh_token):
    """Every operation, one input at a time made hostile: a 2xx or 4xx, and
    every 4xx a problem+json (the spec checks above cover the rest)."""
    client = app.test_client()

    @given(request=_hostile_requests())
    @settings(
        max_examples=EXAMPLES * 4,
        derandomize=FIXED_DRAW,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def answer_is_not_a_server_error(request: dict) -> None:
        request = dict(request)
        response = client.open(
            request.pop("path"),
            method=request.pop("method").upper(),
            headers=fresh_token(),
            **request,
        )
        assert response.status_code < 500, (request, response.get_data(as_text=True))
        if response.status_code >= 400:
            assert response.mimetype == PROBLEM_JSON, response.get_data(as_text=True)

    answer_is_not_a_server_error()
