"""The production server's settings (gunicorn.conf.py) as they behave, not as they read."""
from __future__ import annotations

import os
import subprocess
import sys

import requests

from .conftest import ROOT, Gunicorn


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
