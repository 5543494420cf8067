"""Pushing the case feed to a real HTTP receiver on loopback that fails, times out and answers
slowly on purpose, and across a pusher killed between sending a batch and storing its ack."""
from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete

from backend.extensions import db
from backend.office import case_push
from backend.office.models import CaseFeedState
from tests.helpers import ROOT, free_port, gunicorn_env
from tests.merchants.conftest import Shop, utc

SECRET = "case-feed-test-secret"


class Receiver:
    """The provincial platform: checks each batch's signature and acknowledges by cursor.

    `script` says how to answer each request in turn ("ok", "fail", "hang" (no answer until
    released), "slow"); after it runs out, "ok". `batches` keeps every batch that arrived signed."""

    def __init__(self, script=()):
        self.script = list(script)
        self.batches: list[dict] = []
        self.acknowledged: list[str] = []
        self.release = threading.Event()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Signature", ""), expected):
                    return self._answer(401, {})
                batch = json.loads(body)
                receiver.batches.append(batch)
                receiver.arrived.set()
                step = receiver.script.pop(0) if receiver.script else "ok"
                if step == "fail":
                    return self._answer(500, {})
                if step == "hang":
                    receiver.release.wait(30)
                    return None
                if step == "slow":
                    time.sleep(0.3)
                receiver.acknowledged.append(batch["cursor"])
                self._answer(200, {"ack": batch["cursor"]})

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cases"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[str]:
        """Every case cursor of every acknowledged batch, in the order the platform took them."""
        acked = set(self.acknowledged)
        seen, order = set(), []
        for batch in self.batches:
            if batch["cursor"] in acked:
                for case in batch["cases"]:
                    if case["cursor"] not in seen:
                        seen.add(case["cursor"])
                        order.append(case["cursor"])
        return order

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop(app):
    with app.app_context():
        made = Shop(app)
        yield made
        made.remove()
        db.session.execute(delete(CaseFeedState))
        db.session.commit()


def make_cases(client, shop, count: int) -> None:
    perk = shop.perk()
    for _ in range(count):
        answer = client.post("/api/redemptions", headers=shop.header(), json={
            "token": shop.pass_for(shop.holder()), "perk_id": perk, "client_id": str(uuid.uuid4()),
            "scanned_at": utc().isoformat(), "amount_fen": 5000})
        assert answer.status_code == 201


def all_cursors(client, token) -> list[str]:
    page = client.get("/api/office/cases", headers={"Authorization": f"Bearer {token('office-admin')}"},
                      query_string={"limit": 1000})
    return [case["cursor"] for case in page.json["cases"]]


def feed(app, url, **changes) -> case_push.Feed:
    return case_push.Feed(**{"url": url, "secret": SECRET, "batch": 2, "settle_seconds": 0,
                             "issuer_code": app.config["ISSUER_CODE"], "timeout": (1.0, 0.5), **changes})


def test_failures_time_outs_and_slow_answers_deliver_every_case_once_in_order(app, shop, client, token):
    app.config["CASE_FEED_SETTLE_SECONDS"] = 0
    make_cases(client, shop, 5)
    expected = all_cursors(client, token)
    assert len(expected) == 5
    receiver = Receiver(script=["fail", "hang", "slow", "fail", "ok", "slow"])
    pauses = []
    try:
        rounds = iter(range(40))
        case_push.run(feed(app, receiver.url), idle_seconds=0, sleep=pauses.append,
                      stop=lambda: next(rounds) >= 39 or receiver.delivered() == expected)
    finally:
        receiver.release.set()
        receiver.close()
        app.config["CASE_FEED_SETTLE_SECONDS"] = 5
    assert receiver.delivered() == expected
    # Each batch was re-sent as it was, never a different one under the same cursor.
    by_cursor = {}
    for batch in receiver.batches:
        assert by_cursor.setdefault(batch["cursor"], batch) == batch
    assert [b["after"] for b in receiver.batches if b["cursor"] in receiver.acknowledged][0] == "c1.0.0.0"
    assert pauses[:3] == [1.0, 2.0, 1.0]  # doubling after failures, reset by a success


def test_a_bad_signature_key_is_never_acknowledged(app, shop, client):
    app.config["CASE_FEED_SETTLE_SECONDS"] = 0
    make_cases(client, shop, 1)
    receiver = Receiver()
    try:
        with pytest.raises(case_push.DeliveryFailed):
            case_push.push_once(feed(app, receiver.url, secret="wrong-secret"))
    finally:
        receiver.close()
        app.config["CASE_FEED_SETTLE_SECONDS"] = 5
    assert receiver.batches == []


@pytest.mark.slow
def test_a_pusher_killed_before_the_ack_sends_the_same_batch_again(app, shop, client, token, tmp_path):
    app.config["CASE_FEED_SETTLE_SECONDS"] = 0
    make_cases(client, shop, 5)
    expected = all_cursors(client, token)
    app.config["CASE_FEED_SETTLE_SECONDS"] = 5
    receiver = Receiver(script=["ok", "hang"])
    env = {**gunicorn_env(app, free_port()), "FLASK_APP": "wsgi", "CASE_FEED_URL": receiver.url,
           "CASE_FEED_SECRET": SECRET, "CASE_FEED_SETTLE_SECONDS": "0"}
    flask = [sys.executable, "-m", "flask", "cases", "push", "--batch", "2", "--idle-seconds", "0.2"]
    try:
        first = subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        deadline = time.monotonic() + 30
        while len(receiver.batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.batches) == 2, "the second batch never arrived"
        first.send_signal(signal.SIGKILL)  # between sending the second batch and storing its ack
        first.wait(10)
        cut_off = receiver.batches[1]
        receiver.release.set()
        second = subprocess.Popen([*flask[:4], "push", "--once", "--batch", "2"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 0, output
    finally:
        receiver.close()
    assert receiver.batches[2] == cut_off  # the same batch again, not the next one
    assert receiver.delivered() == expected
