"""At most a few requests of one worker process at a time past `before_request`.

A gevent worker (gunicorn.conf.py) accepts up to a thousand connections at once, far more than its
session pool's connections (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW, 5 + 10). No more requests
run at once than that pool holds: WORKER_REQUESTS_AT_ONCE, by default its size. The others wait
their turn here, first come first served, for at most the pool's timeout, then get 503
`service_unavailable`, an answer a scanner retries (waiting on the pool instead ends in its
TimeoutError: a 500).
The bound was half the pool while a request could hold two of its connections at a moment (its
session's and an autocommit one): 20 requests arriving together at a fresh worker then held every
connection, each waiting for its second. Autocommit statements now have their own engine
(backend/extensions.py), and tests/merchants/test_gevent_server.py passes with the bound lifted.
A gthread worker with its 4 threads never reaches the bound.
Under gevent the turns are gevent's own semaphore: the standard library's, on monkey-patched locks,
is Python code that cost ~6 us a request where gevent's (compiled) costs ~0.6.
"""
from __future__ import annotations

import sys
import threading

from flask import Flask, g

from .errors import DomainError, ErrorCode

WAIT_SECONDS = 30.0  # as long as the pool would let a request wait for a connection


def init_app(app: Flask) -> None:
    slots = _bounded_semaphore(app.config["WORKER_REQUESTS_AT_ONCE"])
    wait_seconds = app.config.get("WORKER_REQUEST_WAIT_SECONDS", WAIT_SECONDS)

    @app.before_request
    def _take_a_turn() -> None:
        if not slots.acquire(timeout=wait_seconds):
            raise DomainError(ErrorCode.SERVICE_UNAVAILABLE)
        g._admitted = True

    @app.teardown_request
    def _end_the_turn(_error=None) -> None:
        if g.pop("_admitted", False):
            slots.release()


def _bounded_semaphore(size: int):
    monkey = sys.modules.get("gevent.monkey")  # imported only where a gevent worker patched the library
    if monkey is not None and monkey.is_module_patched("threading"):
        from gevent.lock import BoundedSemaphore
        return BoundedSemaphore(size)
    return threading.BoundedSemaphore(size)
