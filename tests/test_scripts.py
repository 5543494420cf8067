"""The demo script and the server's defaults as someone starting them meets them: the address it binds,
a port already taken, the URLs it prints, where the SMS code shows, gunicorn's control socket, and
apt-get waiting for another install."""
from __future__ import annotations

import fcntl
import logging
import os
import random
import re
import runpy
import shutil
import signal
import socket
import subprocess
import threading
import time
from unittest import mock

import pytest

from tests.helpers import ROOT, Gunicorn

DEMO = (ROOT / "scripts" / "demo").read_text(encoding="utf-8")


def server_settings(**env) -> dict:
    """gunicorn.conf.py's values under the given environment (None: unset)."""
    with mock.patch.dict(os.environ, {name: value for name, value in env.items() if value is not None}):
        for name in [name for name, value in env.items() if value is None]:
            os.environ.pop(name, None)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_the_server_binds_loopback_unless_host_says_otherwise():
    assert server_settings(HOST=None, PORT=None)["bind"] == "127.0.0.1:8000"
    assert server_settings(HOST="0.0.0.0", PORT="8001")["bind"] == "0.0.0.0:8001"
    assert "127.0.0.1" in DEMO.split("require_free_port")[0]  # the demo's own default, before its port check


def test_the_demo_stops_at_once_when_its_port_is_taken(tmp_path):
    # A copy of the scripts in an empty folder: were the set-up to start, it would work there, not here.
    (tmp_path / "scripts").mkdir()
    for name in ("demo", "lib.sh"):
        shutil.copy2(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {name: value for name, value in os.environ.items() if name not in {"HOST", "PORT"}}
        process = subprocess.Popen(["bash", str(tmp_path / "scripts" / "demo")], cwd=tmp_path,
                                   env={**env, "PORT": str(port)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the set-up and its children
            out, err = process.communicate()
    assert process.returncode != 0
    assert f"端口 127.0.0.1:{port} 已被占用" in err and "PORT=8001" in err, out + err
    assert not (tmp_path / ".venv").exists() and "installing" not in out  # nothing was set up


def test_every_url_the_demo_prints_answers(client):
    paths = set(re.findall(r"\$base(/[^\s#?),]*)", DEMO))
    assert {"/m/", "/office/", "/scanner/", "/api/docs", "/api/openapi.json"} <= paths
    for path in sorted(paths):
        with client.get(path) as response:
            assert response.status_code == 200, path


def test_the_demo_says_where_the_sms_code_appears_and_it_does(client, caplog):
    hint = re.search(r"短信验证码:.*“(.+?)”", DEMO)
    assert hint, "the demo should say where the demo SMS code is written"
    phone = f"139{random.randrange(10**8):08d}"
    with caplog.at_level(logging.INFO):
        assert client.post("/api/auth/sms/send", json={"phone": phone}).status_code == 202
    lines = [record.getMessage() for record in caplog.records if hint.group(1) in record.getMessage()]
    assert len(lines) == 1 and re.search(r"\d{6}", lines[0]), caplog.text


@pytest.mark.slow
def test_gunicorn_opens_no_control_socket_for_another_server_to_take(app, tmp_path):
    # gunicorn 25+ opened one at $XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl: one per user, so a
    # second server on the machine took it over from the first.
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    server = Gunicorn(app, tmp_path / "gunicorn.log", workers=1, env={"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)})
    try:
        assert not [path for path in tmp_path.rglob("*") if path.is_socket() or path.name.endswith(".ctl")]
    finally:
        server.stop()


def test_every_apt_get_in_the_scripts_waits_for_the_package_lock():
    for script in (ROOT / "scripts").iterdir():
        for line in script.read_text(encoding="utf-8").splitlines():
            if re.search(r"\bapt-get\b", line) and not line.lstrip().startswith("#"):
                assert "DPkg::Lock::Timeout" in line, f"{script.name}: {line.strip()}"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("apt-get"), reason="apt-get as root (Debian)")
def test_apt_get_update_waits_while_another_install_holds_the_lists_lock(tmp_path):
    # On private directories, so the machine's package lists are neither read nor changed.
    lists, parts, sources = tmp_path / "lists", tmp_path / "sources.list.d", tmp_path / "sources.list"
    (lists / "partial").mkdir(parents=True)
    parts.mkdir()
    sources.write_text("")
    lock = os.open(lists / "lock", os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(lock, fcntl.LOCK_EX)  # as apt itself locks: another `apt-get update` is running
    threading.Timer(2, lambda: (fcntl.lockf(lock, fcntl.LOCK_UN), os.close(lock))).start()
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", f'source scripts/lib.sh && apt_get -o Dir::State::Lists={lists} '
                                         f'-o Dir::Etc::SourceList={sources} -o Dir::Etc::SourceParts={parts} update'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 2
