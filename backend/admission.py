"""At most a few requests of one worker process at a time past `before_request`.

A gevent worker (gunicorn.conf.py) serves up to a thousand connections at once, but its
SQLAlchemy pool has 15 connections, and one request may hold two of them at a moment: its
session's (kept until the request ends, from its first read on) and an autocommit one
(`read_outside_transaction`, or a new connection for `backend/driver.py`). With 20 requests
arriving together at a fresh worker, every pooled connection was held by a request waiting for
its second, until the pool's 30 s timeout (seen in tests/merchants/test_gevent_server.py). So no
more requests run at once than can each hold two: WORKER_REQUESTS_AT_ONCE, by default half the
pool's connections (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW, 5 + 10: 7); the others wait their
turn, for at most the pool's timeout, then get 503.
A gthread worker with its 4 threads never reaches the bound.
"""
from __future__ import annotations

import threading

from flask import Flask, g

from .errors import DomainError, ErrorCode

WAIT_SECONDS = 30.0  # as long as the pool would let a request wait for a connection


def init_app(app: Flask) -> None:
    slots = threading.BoundedSemaphore(app.config["WORKER_REQUESTS_AT_ONCE"])
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
