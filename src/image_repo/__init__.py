"""image-repo: a REST service that stores images and their metadata."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask import Response, request
from flask_migrate import Migrate
from sqlalchemy import event

from config import Config, engine_options, normalise_database_url

from . import cli, generation, imaging, observability, repository, token_use, web, webhooks
from .api import bodies, duplicates, generate, health, images, metrics, rate_limit, tokens
from .api.errors import DATABASE_DOWN, PROBLEM_JSON, register_error_handlers
from .api.files import NOSNIFF
from .api.schemas import ProblemSchema
from .blobstore import StorageError, open_storage
from .fast_reads import FastReads
from .health import HealthChecks
from .models import SQLITE_BUSY_TIMEOUT_MS, db
from .scratch import Scratch

__version__ = version("image-repo")

migrate = Migrate(render_as_batch=True, compare_type=True)


def create_app(config: Mapping[str, Any] | None = None) -> APIFlask:
    """Build the app from the environment (see config.py), then `config` on top."""
    settings = Config()
    # /docs is served by the web blueprint, from files this server ships.
    app = APIFlask(
        __name__,
        title="image-repo",
        version=__version__,
        instance_path=settings.INSTANCE_PATH,
        docs_path=None,
    )
    app.config.from_object(settings)
    app.config.update(
        HTTP_ERROR_SCHEMA=ProblemSchema,
        VALIDATION_ERROR_SCHEMA=ProblemSchema,
        MAX_FORM_PARTS=settings.MAX_UPLOAD_FILES + 16,
    )
    if config:
        app.config.update(config)
    # The URL may come from `config` too: it gets the same driver and options.
    database_url = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(database_url))

    imaging.configure(app.config["MAX_IMAGE_PIXELS"])
    db.init_app(app)
    observability.init_app(app)  # first: request ids and timing wrap everything below
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIRECTORY"])
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

    app.extensions["image_repo.storage"] = open_storage(
        app.config["FILE_STORAGE_LOCATION"], app.config
    )
    app.extensions["image_repo.scratch"] = Scratch(Path(app.config["INSTANCE_PATH"]) / "scratch")
    app.extensions["image_repo.verified"] = not app.config["CHECK_REPOSITORY"]
    app.extensions["image_repo.health"] = HealthChecks(app.config["HEALTH_CHECK_INTERVAL"])
    if app.config["CHECK_REPOSITORY"]:
        _check_repository(app)
    generation.init_app(app)
    token_use.init_app(app)
    webhooks.init_app(app)
    rate_limit.init_app(app)

    app.schema_name_resolver = _schema_name
    register_error_handlers(app)
    bodies.init_app(app)
    app.register_blueprint(images.bp)
    app.register_blueprint(duplicates.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(generate.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(metrics.bp)
    cli.register(app)
    app.after_request(_nosniff)
    app.spec_processor(_finish_spec)
    app.wsgi_app = FastReads(app)  # outermost: it answers before Flask or passes on
    return app


# What answers before the repository is verified: they say what is down.
UNCHECKED = {"health.health", "metrics.scrape"}


def _check_repository(app: APIFlask) -> None:
    """Refuse to start on a store that belongs to another database (see
    repository.py). With the database or the store down, start anyway and
    check before the first request that reaches them."""
    try:
        with app.app_context():
            if repository.is_set_up():
                repository.verify(app.extensions["image_repo.storage"])
            app.extensions["image_repo.verified"] = True
            return
    except (*DATABASE_DOWN, StorageError) as error:
        app.logger.warning("repository not verified yet: %s", error)

    @app.before_request
    def verify_first() -> None:
        if app.extensions["image_repo.verified"] or request.endpoint in UNCHECKED:
            return
        repository.verify(app.extensions["image_repo.storage"])
        app.extensions["image_repo.verified"] = True


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets readers run beside the one writer; wait for locks, do not fail."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _schema_name(schema) -> str:
    """`ImageSchema` is called `Image` in the OpenAPI spec."""
    schema_class = schema if isinstance(schema, type) else type(schema)
    return schema_class.__name__.removesuffix("Schema")


def _nosniff(response: Response) -> Response:
    response.headers.update(NOSNIFF)
    return response


def _finish_spec(spec: dict) -> dict:
    """Say what APIFlask leaves out: bodies are required, errors are problem+json,
    and a query string that does not fit is a 400 (see api/errors.py)."""
    for path in spec["paths"].values():
        for operation in path.values():
            responses = operation["responses"]
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
                responses.setdefault("400", {**responses["422"], "description": "Unreadable body."})
            elif responses.get("422", {}).get("description") == "Validation error":
                responses["400"] = {**responses.pop("422"), "description": "Invalid parameters."}
            for status, response in responses.items():
                content = response.get("content", {})
                if status.startswith(("4", "5")) and "application/json" in content:
                    schema_ref = content["application/json"].get("schema", {}).get("$ref", "")
                    if schema_ref.endswith("/Problem"):
                        content[PROBLEM_JSON] = content.pop("application/json")
                if status == "304":
                    response.pop("content", None)
    return spec
