"""Fixtures: an app per test on the run's database (SQLite or MySQL), and a real server.

`pytest --db=sqlite` (default) or `pytest --db=mysql`; `make test` runs both. The
MySQL run creates its own database and drops it at the end; set REQUIRE_MYSQL=1 to
make an unreachable server a failure instead of a skip.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import requests
from fake_gemini import FakeGemini
from flask_migrate import upgrade
from sqlalchemy import text

from image_repo import accounts, create_app
from image_repo.models import db

ROOT = Path(__file__).resolve().parent.parent
MYSQL_SERVER = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")

# The suite never talks to Google or to a broker it did not start itself.
for _name in (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_BASE_URL",
    "GENERATION_BACKEND",
    "CELERY_BROKER_URL",
    "RATELIMIT_STORAGE_URI",
):
    os.environ.pop(_name, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "mysql"],
        default=os.environ.get("TEST_DB", "sqlite"),
        help="database the suite runs on",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    if request.config.getoption("--db") == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    yield from _mysql_database()


def _mysql_database() -> Iterator[str]:
    name = f"image_repo_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        server = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    except pymysql.err.OperationalError as error:
        message = f"MySQL at 127.0.0.1:3306 is unreachable: {error}"
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"{MYSQL_SERVER}/{name}?charset=utf8mb4"
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


@pytest.fixture(scope="session")
def migrated_database(database_url: str, tmp_path_factory) -> str:
    """The run's database with every migration applied (the schema's only source)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "FILE_STORAGE_LOCATION": str(tmp_path_factory.mktemp("migrate-storage")),
        }
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def clean_database(app) -> None:
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def storage_dir(tmp_path: Path) -> Path:
    return tmp_path / "storage"


@pytest.fixture
def make_app(migrated_database: str, storage_dir: Path):
    """Build the app with extra settings; the database is emptied afterwards."""
    apps = []

    def build(**overrides):
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": migrated_database,
                "FILE_STORAGE_LOCATION": str(storage_dir),
                **overrides,
            }
        )
        apps.append(app)
        return app

    yield build
    for app in apps:  # jobs and deliveries still running would write into the emptied database
        app.extensions["image_repo.runner"].shutdown()
        if "image_repo.webhooks" in app.extensions:
            app.extensions["image_repo.webhooks"].shutdown()
    for app in apps:
        clean_database(app)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def make_user(app):
    """Create a user; returns their API token."""

    def create(name: str, *, admin: bool = False) -> str:
        with app.app_context():
            _, secret = accounts.create_user(name, admin=admin)
        return secret

    return create


@pytest.fixture
def token(make_user) -> str:
    """The token of "alice", the user `client` acts as."""
    return make_user("alice")


def authenticated(client, token: str):
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def client(app, token):
    """A test client that sends alice's token."""
    return authenticated(app.test_client(), token)


@pytest.fixture
def anonymous(app):
    """A test client without a token."""
    return app.test_client()


@pytest.fixture
def make_client(make_app, token):
    """An app with extra settings, and a client on it that sends alice's token."""

    def build(**overrides):
        return authenticated(make_app(**overrides).test_client(), token)

    return build


class LiveServer:
    """A real gunicorn process serving the app on 127.0.0.1."""

    def __init__(self, database_url: str, storage: Path, log: Path, env: dict[str, str]) -> None:
        self.storage = storage
        self.log = log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FILE_STORAGE_LOCATION": str(storage),
            "PORT": str(self.port),
            "PROMETHEUS_MULTIPROC_DIR": str(log.parent / "prometheus"),
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(gunicorn), "--config", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `kill` takes the workers too
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/health", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the master and every worker at once: a crash, not a shutdown."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(migrated_database: str, storage_dir: Path, tmp_path: Path, make_app):
    """Start a server; `live_server(**env)` passes settings through its environment."""
    servers: list[LiveServer] = []
    make_app()  # empties the database when the test ends

    def start(**env: str) -> LiveServer:
        server = LiveServer(migrated_database, storage_dir, tmp_path / "server.log", env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A fake Gemini REST server on 127.0.0.1 for the real google-genai SDK."""
    server = FakeGemini()
    yield server
    server.close()


@pytest.fixture
def query(app):
    """Run SQL on the test database: `query("SELECT COUNT(*) FROM images")`.
    Rows for a query, the row count for a change (committed)."""

    def run(sql: str, **params):
        with app.app_context():
            result = db.session.execute(text(sql), params)
            answer = result.all() if result.returns_rows else result.rowcount
            db.session.commit()
            return answer

    return run
