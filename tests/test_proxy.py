"""Behind a reverse proxy, rate limits count per citizen: a real nginx (Debian's package) in front of
gunicorn, clients on different loopback addresses, and a client that forges an extra hop."""
from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from flask import request

from tests.helpers import IN_CI, Gunicorn, free_port

NGINX_CONF = """
worker_processes 1;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        message = "nginx is not installed (scripts/test installs Debian's nginx-light)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return found


@pytest.fixture
def nginx(tmp_path):
    """start(upstream_port) -> the port of an nginx proxying to it, as in docs/security.md."""
    binary, started = nginx_binary(), []

    def start(upstream: int) -> int:
        port, prefix = free_port(), tmp_path / "nginx"
        prefix.mkdir()
        conf = prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, upstream=upstream))
        process = subprocess.Popen([binary, "-e", str(prefix / "error.log"), "-p", str(prefix), "-c", str(conf),
                                    "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        started.append(process)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx did not start:\n{(prefix / 'error.log').read_text(errors='replace')}")
                time.sleep(0.05)

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def refresh_from(address: str, port: int, forwarded_for: str | None = None) -> int:
    """POST a (wrong) refresh token from the loopback address `address`, through the proxy on `port`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(address, 0))
    headers = {"Content-Type": "application/json"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    try:
        connection.request("POST", "/api/auth/refresh", body=json.dumps({"refresh_token": "not-a-token"}),
                           headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.slow
def test_behind_nginx_each_citizen_has_their_own_rate_limit_and_a_forged_hop_does_not_escape_it(
        app, nginx, tmp_path: Path):
    server = Gunicorn(app, tmp_path / "gunicorn.log", workers=1,
                      env={"PROXY_HOPS": "1", "RATELIMIT_REFRESH_PER_IP": "2/minute"})
    try:
        port = nginx(server.port)
        first, second = "127.0.0.2", "127.0.0.3"  # two citizens; nginx sees their own addresses
        assert [refresh_from(first, port) for _ in range(2)] == [401, 401]
        assert refresh_from(first, port) == 429
        # Without ProxyFix every request came from nginx's address: one bucket, the second citizen refused.
        assert refresh_from(second, port) == 401
        # An extra hop written by the client is not believed: only the one nginx appended counts.
        assert refresh_from(first, port, forwarded_for="198.51.100.7") == 429
        assert refresh_from(first, port, forwarded_for="198.51.100.7, 127.0.0.9") == 429
    finally:
        server.stop()


def test_without_proxy_hops_a_forwarded_header_is_ignored(make_app):
    # PROXY_HOPS=0 (the default): a client talking to the app directly cannot claim another address.
    application = make_app()
    assert application.config["PROXY_HOPS"] == 0
    application.add_url_rule("/test/remote-addr", "remote_addr", lambda: request.remote_addr)
    response = application.test_client().get("/test/remote-addr", headers={"X-Forwarded-For": "198.51.100.7"},
                                             environ_base={"REMOTE_ADDR": "127.0.0.5"})
    assert response.get_data(as_text=True) == "127.0.0.5"
