"""Fixtures: an app per test on the run's database (SQLite or MySQL), and a real server.

`pytest --db=sqlite` (default) or `pytest --db=mysql`; `make test` runs both. The
MySQL run creates its own database and drops it at the end; set REQUIRE_MYSQL=1 to
make an unreachable server a failure instead of a skip.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
import requests
from fake_gemini import FakeGemini
from flask_migrate import upgrade
from s3_server import MotoServer, free_port
from slow_clients import FLOOD, room_for_sockets
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of what no database changes (the browser, file names, imaging,
    slow clients, the storage backends) run in the SQLite pass only."""
    if config.getoption("--db") == "sqlite":
        return
    once = [item for item in items if item.get_closest_marker("one_database")]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if not item.get_closest_marker("one_database")]


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    yield from make_database(request, tmp_path_factory)


def make_database(request, tmp_path_factory, *, migrate: bool = False) -> Iterator[str]:
    """A new, empty database of the run's kind (with the schema, if `migrate`);
    dropped at the end."""
    if request.config.getoption("--db") == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        yield _migrated(url, tmp_path_factory) if migrate else url
        return
    for url in _mysql_database():
        yield _migrated(url, tmp_path_factory) if migrate else url


def _migrated(url: str, tmp_path_factory) -> str:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "FILE_STORAGE_LOCATION": str(tmp_path_factory.mktemp("migrate-storage")),
            "CHECK_REPOSITORY": False,
        }
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


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
    return _migrated(database_url, tmp_path_factory)


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
def instance_dir(tmp_path: Path) -> Path:
    """This test's INSTANCE_PATH: the node's own scratch space lives there."""
    return tmp_path / "instance"


@pytest.fixture
def make_app(migrated_database: str, storage_dir: Path, instance_dir: Path):
    """Build the app with extra settings; the database is emptied afterwards."""
    apps = []

    def build(**overrides):
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": migrated_database,
                "FILE_STORAGE_LOCATION": str(storage_dir),
                "INSTANCE_PATH": str(instance_dir),
                # Tests change what /health sees and ask again at once.
                "HEALTH_CHECK_INTERVAL": 0,
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
    """The server `make run` starts (gunicorn.conf.py: gunicorn with waitress
    workers), serving the app on 127.0.0.1."""

    def __init__(self, database_url: str, storage: Path, log: Path, env: dict[str, str]) -> None:
        self.storage = storage
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FILE_STORAGE_LOCATION": str(storage),
            "INSTANCE_PATH": str(log.parent / f"instance-{self.port}"),
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


@pytest.fixture
def live_server(migrated_database: str, storage_dir: Path, tmp_path: Path, make_app):
    """Start a server; `live_server(**env)` passes settings through its environment."""
    servers: list[LiveServer] = []
    make_app()  # empties the database when the test ends

    def start(**env: str) -> LiveServer:
        # The tests' clients upload faster than a person: the rate has a test of its own.
        env = {"UPLOAD_RATE_LIMIT": "100000/minute", "HEALTH_CHECK_INTERVAL": "0", **env}
        server = LiveServer(migrated_database, storage_dir, tmp_path / "server.log", env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def many_sockets() -> Iterator[None]:
    """Room for a FLOOD of connections, here and in the servers the test
    starts (each worker accepts up to twice its places, and a slow reader's
    answer holds a file besides)."""
    with room_for_sockets(4 * FLOOD):
        yield


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[MotoServer]:
    """moto's S3 server, one process for the whole run."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@dataclass(frozen=True)
class S3Bucket:
    server: MotoServer
    name: str
    prefix: str

    @property
    def location(self) -> str:
        """What FILE_STORAGE_LOCATION says for it."""
        return f"s3://{self.name}/{self.prefix}"

    def listing(self, under: str = "") -> list[str]:
        """The keys the bucket holds under the prefix (and `under`), without the prefix."""
        return [
            key.removeprefix(f"{self.prefix}/")
            for key in self.server.keys(self.name, f"{self.prefix}/{under}")
        ]


@pytest.fixture
def s3_bucket(s3_server: MotoServer, monkeypatch) -> S3Bucket:
    """A new bucket on the S3 server, and the AWS_* variables that reach it
    (this process's and those of the servers and workers it starts)."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return S3Bucket(s3_server, s3_server.new_bucket(), "repo")


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
