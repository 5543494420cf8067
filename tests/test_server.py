"""The production server's settings (gunicorn.conf.py) as they behave, not as they read."""
from __future__ import annotations

import os
import runpy
import subprocess
import sys

import pytest
import requests

from .conftest import ROOT, TEST_DB, Gunicorn, free_port


def test_a_second_server_on_a_busy_port_refuses_to_start_instead_of_sharing_it(app, tmp_path):
    # Each worker listens with SO_REUSEPORT; without the start-up check a second server would bind
    # the same port too, and the two would split the connections between them.
    first = Gunicorn(app, tmp_path / "first.log")
    try:
        env = {**os.environ, "DEMO": "1", "HOST": "127.0.0.1", "PORT": str(first.port), "PYTHONPATH": str(ROOT)}
        second = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=30)
        assert second.returncode != 0
        assert "端口已被占用" in second.stdout + second.stderr
        for _ in range(20):  # and every connection still reaches the first server
            assert requests.get(f"{first.base}/api/health", timeout=5).status_code == 200
    finally:
        first.stop()


def _server_settings(**env) -> dict:
    """gunicorn.conf.py's values as gunicorn reads them, under the given environment."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update({name: value for name, value in env.items() if value is not None})
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
    try:
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_postgresql_deployments_get_gevent_workers_and_sqlite_keeps_threads():
    assert _server_settings(DATABASE_URL="postgresql://db/xym", GUNICORN_WORKER_CLASS=None)["worker_class"] == "gevent"
    assert _server_settings(DATABASE_URL="postgres://db/xym", GUNICORN_WORKER_CLASS=None)["worker_class"] == "gevent"
    assert _server_settings(DATABASE_URL=None, GUNICORN_WORKER_CLASS=None)["worker_class"] == "gthread"
    assert _server_settings(DATABASE_URL="postgresql://db/xym", GUNICORN_WORKER_CLASS="gthread")["worker_class"] == "gthread"


@pytest.mark.skipif(TEST_DB != "postgresql", reason="gevent workers serve PostgreSQL deployments")
def test_a_gevent_worker_whose_database_waits_would_block_it_refuses_to_serve(app, tmp_path):
    # --preload imports the app (and psycopg) in the master, before a worker patches the standard
    # library for gevent: psycopg would then wait for the database in C, stopping the whole worker.
    env = {**os.environ, "DEMO": "1", "HOST": "127.0.0.1", "PORT": str(free_port()), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
           "REDIS_PREFIX": app.config["REDIS_PREFIX"], "WEB_CONCURRENCY": "1"}
    started = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--preload", "wsgi:app"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "its database waits would block the whole worker" in started.stdout + started.stderr
