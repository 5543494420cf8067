"""Shared fixtures: one app per test session on the database chosen by TEST_DB, always on real Redis.

TEST_DB=sqlite (default) uses a fresh SQLite file; TEST_DB=postgresql creates a fresh database on
the PostgreSQL server at TEST_PG_ADMIN_URL and drops it afterwards. Several test runs can share one
server: each uses its own database and its own Redis key prefix. Under CI=true a missing server
fails the run; elsewhere the tests that need it are skipped with the reason.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from sqlalchemy import event

from backend import create_app
from backend.changefeed import current_feed
from backend.extensions import db

TEST_DB = os.environ.get("TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
MUTABLE_TABLES = ("redemption_conflicts", "failed_attempts", "redemptions", "audit_log", "refresh_tokens",
                  "revoked_sessions", "sms_codes", "device_enrolments", "import_jobs")


def server_missing(what: str, error: Exception):
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.exit(f"CI=true and {message}; the tests need it", returncode=3)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        server_missing("Redis", error)
    return REDIS_URL


@contextmanager
def fresh_database(tmp_path_factory, label: str):
    """Yields the URL of an empty database of TEST_DB's kind, private to this run; dropped afterwards."""
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(label) / f'{label}.sqlite3'}"
        return
    name = f"xym_{label}_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'create database "{name}"')
    except psycopg.OperationalError as error:
        server_missing("PostgreSQL", error)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with fresh_database(tmp_path_factory, "test") as url:
        yield url


def test_config(database_url: str, redis_url: str, prefix: str) -> dict:
    return {
        "TESTING": True,
        "DEMO": True,
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "PASS_KEY_SECRET": "test-pass-key-secret",
        "IDENTITY_PEPPER": "test-identity-pepper",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
    }


@pytest.fixture(scope="session")
def redis_prefix(redis_url):
    prefix = f"xymtest:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)


def dispose(application) -> None:
    """Stop its change feed and close pooled connections, so the test database can be dropped and no
    socket leaks a warning."""
    with application.app_context():
        current_feed().stop()
        db.engine.dispose()


@pytest.fixture(scope="session")
def app(database_url, redis_url, redis_prefix):
    """One migrated, demo-seeded app for the session (migrations, not create_all: they are tested too)."""
    from flask_migrate import upgrade

    application = create_app(test_config(database_url, redis_url, redis_prefix))
    with application.app_context():
        upgrade()
        result = application.test_cli_runner().invoke(args=["demo", "seed"])
        assert result.exit_code == 0, result.output
    yield application
    dispose(application)


@contextmanager
def app_maker(database_url: str, redis_url: str, prefix: str):
    """Yields make(**overrides) -> a new app on that database; every app made is disposed at the end."""
    made = []

    def _make(**overrides):
        application = create_app({**test_config(database_url, redis_url, prefix), **overrides})
        made.append(application)
        return application

    try:
        yield _make
    finally:
        for application in made:
            dispose(application)


@pytest.fixture
def make_app(database_url, redis_url, redis_prefix):
    """make_app(**overrides): another app on the same database (e.g. with Redis unreachable)."""
    with app_maker(database_url, redis_url, redis_prefix) as make:
        yield make


ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_env(app, port: int, *, workers: int = 2, **settings: str) -> dict:
    """The environment of a gunicorn serving wsgi:app on `app`'s database, Redis prefix and secrets."""
    config = app.config
    return {**os.environ, "DEMO": "1", "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": config["REDIS_URL"], "REDIS_PREFIX": config["REDIS_PREFIX"],
            "SECRET_KEY": config["SECRET_KEY"], "PASS_KEY_SECRET": config["PASS_KEY_SECRET"],
            "IDENTITY_PEPPER": config["IDENTITY_PEPPER"], "HOST": "127.0.0.1", "PORT": str(port),
            "WEB_CONCURRENCY": str(workers), "PYTHONPATH": str(ROOT), **settings}


class Gunicorn:
    """gunicorn serving wsgi:app on a test app's database, Redis prefix and secrets, as in production."""

    def __init__(self, app, log_path: Path, workers: int = 2, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = gunicorn_env(app, self.port, workers=workers, **(env or {}))
        self.log_path = log_path
        self.log = open(log_path, "wb")
        # Its own process group, so that kill() takes the workers down with the master, like a crash.
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.base}/api/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass  # not listening yet, or still booting its workers
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"gunicorn did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL to the whole group: no graceful shutdown, nothing flushed, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)
        self.log.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self.log.close()


@pytest.fixture(autouse=True)
def _clean_mutable_tables(request):
    """After each test, forget what it recorded; reference data (partners, people, keys) stays."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        db.session.rollback()
        for table in MUTABLE_TABLES:
            db.session.execute(db.text(f"delete from {table}"))
        db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def token(app):
    """token(role) -> bearer token of that demo role, through the real `flask demo token` command."""
    runner = app.test_cli_runner()

    def _token(role: str) -> str:
        result = runner.invoke(args=["demo", "token", role])
        assert result.exit_code == 0, result.output
        return result.output.strip()

    return _token


@pytest.fixture
def auth_header(token):
    return lambda role: {"Authorization": f"Bearer {token(role)}"}


_counts: dict[str, int] = {}


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        _counts[TEST_DB] = _counts.get(TEST_DB, 0) + 1


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"database {TEST_DB}: {_counts.get(TEST_DB, 0)} tests passed on this database")


@contextmanager
def statements_sent(engine, *, this_thread_only: bool = False, first_word: bool = False):
    """The SQL statements `engine` sends while the block runs (a list filled as they go): only the
    calling thread's with `this_thread_only` (not the change feed's own reloads, nor other
    requests'), and only each statement's first word, upper-cased, with `first_word`."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn, cursor, statement, *args):
        if not this_thread_only or threading.get_ident() == me:
            seen.append(statement.split(None, 1)[0].upper() if first_word else statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def wait_until(predicate, *, seconds: float = 3.0, what: str = "the change feed") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not get there in {seconds} s"
        time.sleep(0.005)


@pytest.fixture
def redis_calls(monkeypatch):
    """The Redis commands this process sends while the test runs (the feed's own thread excluded)."""
    calls, me = [], threading.get_ident()
    execute_command, pipeline_execute = redis.Redis.execute_command, redis.client.Pipeline.execute

    def command(self, *args, **kwargs):
        if threading.get_ident() == me:
            calls.append(args[0])
        return execute_command(self, *args, **kwargs)

    def pipeline(self, *args, **kwargs):
        if threading.get_ident() == me:
            calls.append("PIPELINE")
        return pipeline_execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline)
    return calls
