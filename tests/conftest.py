"""Shared fixtures: one app per test session on the database chosen by TEST_DB, always on real Redis.

TEST_DB=sqlite (default) uses a fresh SQLite file; TEST_DB=postgresql creates a fresh database on
the PostgreSQL server at TEST_PG_ADMIN_URL and drops it afterwards. Several test runs can share one
server: each uses its own database and its own Redis key prefix. Under CI=true a missing server
fails the run; elsewhere the tests that need it are skipped with the reason.
"""
from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
import redis

from backend import create_app
from tests.helpers import (IN_CI, PG_ADMIN_URL, REDIS_URL, TEST_DB, app_maker, clear_mutable_tables, dispose,
                           fresh_database, server_missing, test_config)


def pytest_sessionstart(session):
    """Under CI=true a missing server ends the run before any test starts, with its name: under
    pytest-xdist (scripts/test) the workers' own pytest.exit would only show as a crashed worker."""
    if not IN_CI:
        return
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        server_missing("Redis", error)
    if TEST_DB == "postgresql":
        try:
            psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
        except psycopg.OperationalError as error:
            server_missing("PostgreSQL", error)


@pytest.fixture(scope="session")
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        server_missing("Redis", error)
    return REDIS_URL


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with fresh_database(tmp_path_factory, "test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_prefix(redis_url):
    prefix = f"xymtest:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)


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


@pytest.fixture
def make_app(database_url, redis_url, redis_prefix):
    """make_app(**overrides): another app on the same database (e.g. with Redis unreachable)."""
    with app_maker(database_url, redis_url, redis_prefix) as make:
        yield make


@pytest.fixture(autouse=True)
def _clean_mutable_tables(request):
    """After each test, forget what it recorded; reference data (partners, people, keys) stays."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        clear_mutable_tables()


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
        return result.stdout.strip()

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
