"""gunicorn settings for 信用码; every value can be overridden from the environment (backend/config.py)."""
import importlib.util
import socket
from pathlib import Path

# backend/config.py on its own, not the backend package: the master must not import the app's
# libraries before each gevent worker has patched the standard library (see post_worker_init).
_spec = importlib.util.spec_from_file_location("_xym_settings", Path(__file__).resolve().parent / "backend" / "config.py")
_settings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_settings)
_server = _settings.gunicorn_from_env()

# Loopback unless HOST says otherwise: other machines reach the app through a reverse proxy
# (docs/security.md), or HOST=0.0.0.0 says that they may reach it directly.
bind = _server["bind"]
# gunicorn's control socket (gunicornc) is off: its default path, ~/.gunicorn/gunicorn.ctl, is one per
# user, so a second server on the machine took it over from the first. Signals still control gunicorn.
control_socket_disable = True
workers = _server["workers"]
# On PostgreSQL, gevent: each worker serves its connections as greenlets and waits on PostgreSQL
# and Redis cooperatively. Against gthread (4 threads) in the same run it served 44% more
# redemptions per second at a lower p99 and kept the cores busy (94% against 86%): no hand-offs
# between threads and the GIL, and bigger group-commit batches (docs/benchmarks.md).
# On SQLite, gthread: SQLite waits for a lock by sleeping in C, which under gevent would stop the
# very greenlet holding the lock (a writer yielding on a Redis call) until its busy timeout.
worker_class = _server["worker_class"]
worker_connections = _server["worker_connections"]
threads = _server["threads"]
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = _server["accesslog"]
forwarded_allow_ips = _server["forwarded_allow_ips"]
# One listening socket per worker: the kernel spreads connections over the workers (with one shared
# socket, the worker that woke first took most keep-alive connections). See docs/running.md.
reuse_port = _server["reuse_port"]

def on_starting(server):
    """With reuse_port, a second server started on a busy port would not fail: it would share the
    port with the first, and each would get part of the connections. So first make sure the port
    is free, as binding without reuse_port would have."""
    if not server.cfg.reuse_port:
        return
    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a unix socket path
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
            try:
                probe.bind(address)
            except OSError as error:
                raise SystemExit(f"端口已被占用 (address in use): {address[0]}:{address[1]} ({error})") from None


def post_fork(server, worker):
    """With --preload the app was built, and its change feed started, in the master: a forked worker
    has the feed but not its thread, and serves without it (slower, never stale) unless it starts
    its own. Without --preload each worker builds its app, feed included, after this hook."""
    app = server.app.callable  # the preloaded app, or None
    if app is not None:
        app.extensions["change_feed"].start()


def _gevent(worker) -> bool:
    return type(worker).__name__.startswith("Gevent")


def post_worker_init(worker):
    """A gevent worker whose PostgreSQL driver waits in C would block every request of the worker
    while one waits for the database: psycopg picks its cooperative wait only if gevent patched
    `select` before psycopg was imported. Refuse to serve rather than serve one request at a time."""
    if _gevent(worker):
        import gevent.monkey
        import psycopg.waiting

        cooperative = {getattr(psycopg.waiting, name, None) for name in ("wait_select", "wait_poll")}
        if not gevent.monkey.is_module_patched("select") or psycopg.waiting.wait not in cooperative:
            raise RuntimeError("psycopg was imported before gevent patched the standard library: its database "
                               "waits would block the whole worker (no --preload with gevent workers)")


def post_request(worker, req, environ, resp):
    """gevent: let the worker's other connections have their turn. A keep-alive connection whose next
    request has already arrived would otherwise be served again at once: at saturation the ping's
    p99 went from ~25 ms to 150-680 ms (docs/benchmarks.md)."""
    if _gevent(worker):
        import gevent

        gevent.sleep(0)
