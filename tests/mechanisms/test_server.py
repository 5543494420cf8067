"""The production server's settings (gunicorn.conf.py) as they behave, not as they read."""
from __future__ import annotations

import os
import runpy
import subprocess
import sys
from unittest import mock

import pytest
import requests

from tests.helpers import ROOT, TEST_DB, Gunicorn, free_port, gunicorn_env


@pytest.mark.slow
@pytest.mark.database_independent  # the port check runs in gunicorn's master, before any worker
def test_a_second_server_on_a_busy_port_refuses_to_start_instead_of_sharing_it(app, tmp_path):
    # Each worker listens with SO_REUSEPORT; without the start-up check a second server would bind
    # the same port too, and the two would split the connections between them.
    first = Gunicorn(app, tmp_path / "first.log")
    try:
        second = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                env=gunicorn_env(app, first.port), capture_output=True, text=True, timeout=30)
        assert second.returncode != 0
        assert "端口已被占用" in second.stdout + second.stderr
        for _ in range(20):  # and every connection still reaches the first server
            assert requests.get(f"{first.base}/api/health", timeout=5).status_code == 200
    finally:
        first.stop()


def _server_settings(**env) -> dict:
    """gunicorn.conf.py's values as gunicorn reads them, under the given environment (None: unset)."""
    with mock.patch.dict(os.environ, {name: value for name, value in env.items() if value is not None}):
        for name in [name for name, value in env.items() if value is None]:
            os.environ.pop(name, None)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


@pytest.mark.database_independent
def test_postgresql_deployments_get_gevent_workers_and_sqlite_keeps_threads():
    assert _server_settings(DATABASE_URL="postgresql://db/xym", GUNICORN_WORKER_CLASS=None)["worker_class"] == "gevent"
    assert _server_settings(DATABASE_URL="postgres://db/xym", GUNICORN_WORKER_CLASS=None)["worker_class"] == "gevent"
    assert _server_settings(DATABASE_URL=None, GUNICORN_WORKER_CLASS=None)["worker_class"] == "gthread"
    assert _server_settings(DATABASE_URL="postgresql://db/xym", GUNICORN_WORKER_CLASS="gthread")["worker_class"] == "gthread"


@pytest.mark.slow
@pytest.mark.skipif(TEST_DB != "postgresql", reason="gevent workers serve PostgreSQL deployments")
def test_a_gevent_worker_whose_database_waits_would_block_it_refuses_to_serve(app, tmp_path):
    # --preload imports the app (and psycopg) in the master, before a worker patches the standard
    # library for gevent: psycopg would then wait for the database in C, stopping the whole worker.
    started = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--preload", "wsgi:app"],
                             cwd=ROOT, env=gunicorn_env(app, free_port(), workers=1), capture_output=True, text=True,
                             timeout=60)
    assert started.returncode != 0
    assert "its database waits would block the whole worker" in started.stdout + started.stderr
