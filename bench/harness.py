"""Shared benchmark harness: a fresh demo database, gunicorn on it, and wrk against it.

    from harness import demo_database, gunicorn, wrk, flask_cli

    with demo_database("postgresql") as env:          # migrated + `flask demo seed`, dropped afterwards
        token = flask_cli(env, "demo", "token", "citizen")
        with gunicorn(env, workers=2, threads=4) as base:
            hello = wrk(base + "/api/ping", seconds=10)
            issue = wrk(base + "/api/pass", seconds=10, method="POST", body="{}",
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            print(hello.rate, hello.p99_ms, issue.statuses)

Everything is driven the same way for the baseline and the endpoint under test (same wrk, same Lua
script that counts statuses), so their ratio is fair. For a body that must change per request
(redemptions: a fresh pass and client id each time) pass `script=` with your own Lua and
`script_args=`; the status-counting `done()` of `COUNTING_LUA` can be reused by appending it.
Needs wrk (Debian's package; `ensure_wrk()` installs it when running as root), Redis at
REDIS_URL, and for PostgreSQL the server at TEST_PG_ADMIN_URL.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import resource
import runpy
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
BENCH_CONFIG = Path(__file__).with_name("gunicorn_bench.conf.py")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
FLASK = str(Path(sys.executable).with_name("flask"))

# Every response status counted per thread, the totals printed as "STATUS <code> <count>" lines
# when wrk finishes. A script of your own can append this (it defines setup, init, response, done).
COUNTING_LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do total[code] = (total[code] or 0) + count end
  end
  for code, count in pairs(total) do io.write(string.format("STATUS %d %d\n", code, count)) end
end
"""


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
        path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database_url: str) -> dict:
    """The environment of the app under test: demo mode, fresh secrets, its own Redis prefix, no rate limits."""
    return {
        **os.environ, "DEMO": "1", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": f"xymbench:{secrets.token_hex(4)}:", "SECRET_KEY": secrets.token_urlsafe(32),
        "PASS_KEY_SECRET": secrets.token_urlsafe(32), "IDENTITY_PEPPER": secrets.token_urlsafe(32),
        "RATELIMIT_DISABLED": "1", "PYTHONPATH": str(ROOT), "FLASK_APP": "wsgi",
        "PYTHONWARNINGS": "ignore",
    }


def flask_cli(env: dict, *args: str) -> str:
    """Run `flask ARGS` against the benchmark's app; return its standard output, stripped."""
    done = subprocess.run([FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


@contextlib.contextmanager
def demo_database(kind: str = "postgresql", **settings: str):
    """A fresh database (PostgreSQL or a SQLite file), migrated and seeded; yields the app's environment."""
    with tempfile.TemporaryDirectory() as tmp:
        name = f"xym_bench_{secrets.token_hex(4)}"
        if kind == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        else:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'create database "{name}"')
            url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
        env = {**base_env(url), **settings}
        try:
            flask_cli(env, "db", "upgrade")
            flask_cli(env, "demo", "seed")
            yield env
        finally:
            if kind != "sqlite":
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'drop database if exists "{name}" with (force)')


def server_shape(env: dict, *, workers: int = 2, threads: int = 4) -> str:
    """How gunicorn.conf.py shapes the server under `env` (the worker class follows the database)."""
    with mock.patch.dict(os.environ, env):
        worker_class = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["worker_class"]
    return f"{workers} {worker_class} workers" + (f" x {threads} threads" if worker_class == "gthread" else "")


HELLO_WORLD_APP = "bench.hello_world:app"  # the bare Flask baseline (bench/hello_world.py)


@contextlib.contextmanager
def gunicorn(env: dict, *, workers: int = 2, threads: int = 4, app: str = "wsgi:app", ready_path: str = "/api/ping"):
    """gunicorn serving `app` with the repo's settings (access log off); yields its base URL.

    `app=HELLO_WORLD_APP, ready_path="/"` serves the bare hello-world with exactly the same settings
    (the worker class still follows `env`'s DATABASE_URL), so a ratio against it is fair."""
    port = free_port()
    server_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers),
                  "GUNICORN_THREADS": str(threads)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(BENCH_CONFIG), app],
                              cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if server.poll() is not None:
                raise SystemExit("gunicorn exited at start-up")
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + ready_path, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not come up")
        yield base
    finally:
        server.terminate()
        server.wait(30)


@dataclass
class WrkResult:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    requests: int
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: str = ""
    raw: str = ""

    def only(self, *codes: int) -> bool:
        """True when every answer had one of `codes` and no socket errors happened."""
        return bool(self.statuses) and set(self.statuses) <= set(codes) and not self.socket_errors


def lua_string(text: str) -> str:
    """A Lua string literal of any text (every byte as a decimal escape: nothing to get wrong)."""
    return '"' + "".join(f"\\{byte:03d}" for byte in text.encode()) + '"'


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, *, seconds: int = 10, connections: int = 16, threads: int = 2, method: str = "GET",
        headers: dict | None = None, body: str = "", script: str | None = None,
        script_args: list[str] | None = None) -> WrkResult:
    """Run wrk --latency against `url`; with no `script`, a fixed request via COUNTING_LUA."""
    if script is None:
        request = [f"wrk.method = {lua_string(method)}"] + ([f"wrk.body = {lua_string(body)}"] if body else [])
        request += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in (headers or {}).items()]
        script = "\n".join(request) + "\n" + COUNTING_LUA
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "bench.lua"
        lua.write_text(script)
        command = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua),
                   url, "--", *(script_args or [])]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentile = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Socket errors: (.*)", out)
    return WrkResult(
        rate=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), p50_ms=percentile["50"],
        p99_ms=percentile["99"], requests=int(re.search(r"(\d+) requests in", out).group(1)),
        statuses={int(c): int(n) for c, n in re.findall(r"STATUS (\d+) (\d+)", out)},
        socket_errors=errors.group(1) if errors else "", raw=out,
    )


def warm_up(url: str, *, tries: int = 8, **wrk_args) -> list[float]:
    """Drive `url` in 2 s runs until its rate stops climbing; return the rates seen.

    A fresh gunicorn on this VM serves its first few seconds at a third of its settled rate
    (seen: 1,400 -> 4,400 -> 4,900 req/s for the ping), so a fixed short warm-up would let the
    first measured run carry that start-up and skew a ratio.
    """
    rates: list[float] = []
    for _ in range(tries):
        rates.append(wrk(url, **{**wrk_args, "seconds": 2}).rate)
        if len(rates) >= 2 and rates[-1] <= rates[-2] * 1.1:
            break
    return rates


def cpu_seconds_by_process() -> dict[str, float]:
    """CPU seconds used so far by gunicorn, PostgreSQL, Redis, wrk and the kernel's workers (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if b"gunicorn" in command:
            group = "gunicorn"
        elif name.startswith("postgres"):
            group = "postgres"
        elif name.startswith("redis"):
            group = "redis"
        elif name.startswith("kworker"):
            group = "kernel"
        else:
            continue
        totals[group] = totals.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    # wrk has exited by the time anyone reads: its CPU is in our children's usage (gunicorn, still
    # running, is not: a child counts there only once it has been waited for).
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["wrk"] = children.ru_utime + children.ru_stime
    return totals


def cpu_us_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, int]:
    """Microseconds of CPU per request, by process group, between two `cpu_seconds_by_process()`."""
    return {group: round((after.get(group, 0.0) - before.get(group, 0.0)) / max(requests, 1) * 1e6)
            for group in sorted(after) if after.get(group, 0.0) - before.get(group, 0.0) > 0}


class WalFlushWatch:
    """The longest a statement of the database waited for its commit to reach the disk, during a
    `with` block.

    A commit returns when its WAL is on disk, so a disk whose flush (fdatasync) stalls holds every
    redemption of every worker until it returns: on this project's VMs such stalls of 0.1-3 s
    decided a round's p99 and cut its rate (docs/benchmarks.md, "Stop 17"). This samples
    pg_stat_activity every `interval` seconds from its own connection (~50 small queries a second)
    and keeps the age of the oldest statement seen waiting in `IO/WALSync`: a lower bound of the
    longest stall, since a sample lands somewhere inside it.
    """

    def __init__(self, database_url: str, *, interval: float = 0.02):
        self._database = database_url.rsplit("/", 1)[1]
        self._interval = interval
        self.longest_ms = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "WalFlushWatch":
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        query = ("select coalesce(max(extract(epoch from clock_timestamp() - query_start)), 0) * 1000 "
                 "from pg_stat_activity where datname = %s and wait_event_type = 'IO' and wait_event = 'WALSync'")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            while not self._stop.is_set():
                self.longest_ms = max(self.longest_ms, float(admin.execute(query, (self._database,)).fetchone()[0]))
                self._stop.wait(self._interval)
