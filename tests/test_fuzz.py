"""The whole API fuzzed from its own OpenAPI spec with schemathesis.

Every operation gets FUZZ_EXAMPLES generated requests (200 by default), valid
and invalid; then sequences follow the links schemathesis infers (upload or
list, then download, details, thumbnail, base64 or delete of those images).
Every answer must be no 5xx and match the spec: a documented status code,
content type, headers and body schema.

The suite draws the same examples on every run (Hypothesis' derandomize), so
that it passes or fails for the code, not for the draw. To search further,
FUZZ_RANDOM=1 draws new ones each run, e.g.

    FUZZ_RANDOM=1 FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/test_fuzz.py
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile

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
from support import jpeg, png

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


def _operations() -> list[str]:
    """Every operation in the spec, e.g. "GET /image/{image_id}" (no database needed)."""
    with tempfile.TemporaryDirectory() as storage:
        app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "FILE_STORAGE_LOCATION": storage})
        spec = app.spec
    return [f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item]


@pytest.fixture
def app(make_app):
    """The rate limit would turn generated POSTs into 429s part way through."""
    return make_app(GENERATION_RATE_LIMIT="1000000/minute")


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
            """Each sequence starts from the same two pictures, as Hypothesis
            replays sequences and expects the same answers to the same calls
            (and random bytes are seldom a picture to follow links from)."""
            with app.app_context():
                db.session.execute(text("DELETE FROM images"))
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
