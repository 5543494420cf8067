"""gunicorn settings for 信用码; every value can be overridden from the environment."""
import multiprocessing
import os
import socket

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
# The app is stateless and CPU-bound in signing and verifying: one worker per core, a few threads each.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# One listening socket per worker: the kernel spreads connections over the workers (with one shared
# socket, the worker that woke first took most keep-alive connections). See docs/running.md.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "1") == "1"


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
