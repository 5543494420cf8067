"""Redis failover under load: a master, its replica and three sentinels of the test's own on loopback
(Debian's `redis-server`, sentinels as `redis-server <conf> --sentinel`), an app that knows only the
sentinels (REDIS_URL points where nothing listens), and the master SIGKILLed while cashiers redeem.

What must hold, and is checked: every redemption the client saw acknowledged is recorded exactly
once (the client retries a failed request with the same client_id, as the scanner does, and sends
every fifth acknowledged scan again, as after an answer lost on the way); after the
failover the rate limits count on the new master, a revocation made by one worker reaches another
through the change feed, which has subscribed again on the new master; /api/health names the new
master and the sentinels' epoch. Under CI=true a missing redis-server fails the run; elsewhere it
is skipped. It runs once, in the PostgreSQL pass (the redemption rows are PostgreSQL's to guard).
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from backend.auth.sessions import RevokedSessions
from backend.changefeed import current_feed
from backend.credit.models import CreditSubject
from backend.extensions import db, limiter
from backend.merchants.models import Redemption
from tests.helpers import TEST_DB, free_port, server_missing, utc
from tests.mechanisms.test_changefeed import header, revoke, revoked_in
from tests.merchants.conftest import Shop

pytestmark = [pytest.mark.sentinel, pytest.mark.slow, pytest.mark.xdist_group("sentinel")]
MASTER_NAME = "xym"
HOLDERS = 2000  # more passes than the load can use: it stops on its own once the failover is behind it
CASHIERS = 4


@dataclass
class RedisSet:
    root: Path
    master_port: int
    replica_port: int
    sentinel_ports: list[int]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        log.close()

    @property
    def sentinels(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.sentinel_ports]

    def ask_sentinel(self, port: int) -> dict:
        with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as client:
            return client.sentinel_master(MASTER_NAME)

    def ready(self) -> bool:
        """Each sentinel sees the master up, the replica and the two other sentinels (a failover needs them)."""
        try:
            with redis.Redis(port=self.replica_port, socket_timeout=1) as replica:
                if replica.info("replication").get("master_link_status") != "up":
                    return False
            for port in self.sentinel_ports:
                state = self.ask_sentinel(port)
                if state["num-other-sentinels"] < 2 or state["num-slaves"] < 1 or not state["is_master"]:
                    return False
                with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as client:
                    if not any(not r["is_sdown"] for r in client.sentinel_slaves(MASTER_NAME)):
                        return False
        except redis.RedisError:
            return False
        return True

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(10)


def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def redis_set():
    if TEST_DB != "postgresql":
        pytest.skip("the Sentinel test runs in the PostgreSQL pass (TEST_DB=postgresql)")
    binary = shutil.which("redis-server")
    if binary is None:
        server_missing("redis-server (Debian's redis-server package)", FileNotFoundError("redis-server"))
    root = Path(tempfile.mkdtemp(prefix="xymsen"))
    servers = RedisSet(root, free_port(), free_port(), [free_port() for _ in range(3)])
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    try:
        (root / "master").mkdir()
        (root / "replica").mkdir()
        servers.start("master", binary, "--port", str(servers.master_port), "--dir", str(root / "master"), *common)
        servers.start("replica", binary, "--port", str(servers.replica_port), "--dir", str(root / "replica"),
                      "--replicaof", "127.0.0.1", str(servers.master_port), *common)
        for number, port in enumerate(servers.sentinel_ports):
            (root / f"sentinel{number}").mkdir()
            conf = root / f"sentinel{number}.conf"  # a sentinel rewrites its file: one each
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {root / f'sentinel{number}'}\n"
                            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {servers.master_port} 2\n"
                            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                            f"sentinel failover-timeout {MASTER_NAME} 10000\n")
            servers.start(f"sentinel{number}", binary, str(conf), "--sentinel")
        wait_for(servers.ready, 30, "the sentinels meeting the master, its replica and each other")
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def shop(app):
    with app.app_context():
        made = Shop(app)
        yield made
        made.remove()


@pytest.fixture
def sentinel_apps(make_app, redis_set):
    """Two workers (two app objects) that find Redis only through the sentinels."""
    settings = {"REDIS_SENTINELS": redis_set.sentinels, "REDIS_SENTINEL_MASTER": MASTER_NAME,
                "REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens there: only the sentinels lead to Redis
                "RATELIMIT_SIGNIN_PER_IP": "3/minute",
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": CASHIERS + 2, "max_overflow": 2}}
    apps = make_app(**settings), make_app(**settings)
    for app in apps:
        with app.app_context():
            feed = current_feed()
        wait_for(lambda: feed.synced, 10, "the change feed subscribing through the sentinels")
    yield apps
    # Flask-Limiter's extension is one per process: it counts in the storage of the app made last and
    # merges every app's RATELIMIT_STORAGE_OPTIONS into its own. Take the sentinel-only ones out and
    # point it back at the ordinary Redis before these sentinels stop (later tests count there).
    for name in ("use_replicas", "sentinel_kwargs", "db", "password"):
        limiter._storage_options.pop(name, None)
    make_app()


def health(app) -> dict:
    response = app.test_client().get("/api/health")
    assert response.status_code == 200, response.json
    return response.json


def test_killing_the_redis_master_under_load_loses_and_doubles_no_redemption(app, shop: Shop, redis_set,
                                                                              sentinel_apps):
    worker, other = sentinel_apps
    before = health(worker)
    assert before["redis"] == "ok" and before["redis_mode"] == "sentinel"
    assert before["redis_master"] == f"127.0.0.1:{redis_set.master_port}"
    epoch_before = before["redis_failover_epoch"]

    perk = shop.perk()
    with app.app_context():
        subjects = [CreditSubject(kind="person", identity_hash=uuid.uuid4().hex * 2, tier_level=2)
                    for _ in range(HOLDERS)]
        db.session.add_all(subjects)
        db.session.commit()
        shop.subject_ids.extend(subject.id for subject in subjects)
        tokens = queue.Queue()
        for subject in subjects:
            tokens.put(shop.pass_for(subject.id))
    cashier = shop.header()

    acknowledged: dict[str, int] = {}  # client_id -> the redemption id the client was given
    retries, failures, resent, lock, stop = [], [], [], threading.Lock(), threading.Event()

    def cashier_loop() -> None:
        client = worker.test_client()
        while not stop.is_set():
            try:
                token = tokens.get_nowait()
            except queue.Empty:
                return
            sent = {"token": token, "perk_id": perk, "client_id": str(uuid.uuid4()),
                    "scanned_at": utc().isoformat(), "amount_fen": 10000}
            for attempt in range(50):  # the scanner's retry: the same client_id until it gets an answer
                try:
                    response = client.post("/api/redemptions", json=sent, headers=cashier)
                except Exception as error:  # noqa: BLE001 - the client saw no answer: it retries
                    response, problem = None, repr(error)
                else:
                    problem = f"{response.status_code} {response.json}"
                if response is not None and response.status_code in (200, 201):
                    with lock:
                        acknowledged[sent["client_id"]] = response.json["id"]
                        resend = len(acknowledged) % 5 == 0
                    if resend:  # the answer "lost" on the way: the scanner sends the same scan again
                        again = client.post("/api/redemptions", json=sent, headers=cashier)
                        with lock:
                            resent.append((again.status_code, again.json.get("id") == response.json["id"]))
                    break
                with lock:
                    retries.append(problem)
                time.sleep(0.05)
            else:
                with lock:
                    failures.append(sent["client_id"])
            time.sleep(0.01)

    threads = [threading.Thread(target=cashier_loop) for _ in range(CASHIERS)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(acknowledged) >= 100, 30, "the first 100 redemptions")
        redis_set.processes["master"].send_signal(signal.SIGKILL)
        killed_at, at_kill = time.monotonic(), len(acknowledged)
        new_master = f"127.0.0.1:{redis_set.replica_port}"
        wait_for(lambda: health(worker)["redis_master"] == new_master and health(worker)["redis"] == "ok",
                 30, "the sentinels promoting the replica")
        failover_seconds = time.monotonic() - killed_at
        during = len(acknowledged) - at_kill
        after = len(acknowledged)
        wait_for(lambda: len(acknowledged) >= after + 100, 30, "100 redemptions after the failover")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    print(f"failover in {failover_seconds:.1f} s; {during} redemptions acknowledged meanwhile, "
          f"{len(acknowledged)} in all, {len(retries)} retries, {len(resent)} sent twice")

    assert not failures
    assert resent and set(resent) == {(200, True)}  # the same scan again: the first answer, nothing new
    assert during > 0, "the load stopped while Redis failed over"
    with app.app_context():
        db.session.rollback()
        rows = db.session.execute(select(Redemption.client_id, Redemption.id).where(Redemption.perk_id == perk)).all()
    recorded = {str(client_id): row_id for client_id, row_id in rows}
    assert len(rows) == len(recorded) == len(acknowledged)  # none doubled, none lost, none unacknowledged
    assert recorded == acknowledged

    # /api/health: the new master, one failover more in the sentinels' epoch.
    after_health = health(worker)
    assert after_health["redis_mode"] == "sentinel"
    assert after_health["redis_failover_epoch"] > epoch_before

    # The change feed: both workers subscribed again, on the new master, and a revocation made by one
    # reaches the other's memory through it.
    for each in (worker, other):
        with each.app_context():
            feed = current_feed()
        wait_for(lambda: feed.synced, 10, "the change feed subscribing again")
    with redis.Redis(port=redis_set.replica_port, decode_responses=True) as promoted:
        names = {c.get("name") for c in promoted.client_list() if c.get("sub") == "1"}
        assert feed.client_name in names
        sid = f"failover-{time.monotonic_ns()}"
        assert other.test_client().get("/api/auth/me", headers=header(other, sid)).status_code != 401
        revoke(worker, sid)
        wait_for(lambda: revoked_in(other, sid), 3, "the revocation reaching the other worker")
        assert other.test_client().get("/api/auth/me", headers=header(other, sid)).status_code == 401
        assert promoted.exists(f"{worker.config['REDIS_PREFIX']}revoked:{sid}")

        # Rate limits: while Redis fails over, a worker's limiter counts in its own memory (Flask-Limiter's
        # fallback) and asks its storage again after 1, 2, 4, ... s; then it counts on the new master.
        client, addresses = worker.test_client(), iter(f"10.19.{n // 250}.{n % 250 + 1}" for n in range(10_000))

        def sign_in(address: str) -> int:
            return client.post("/api/auth/sms/login", json={"phone": "13800000000", "code": "000000"},
                               environ_base={"REMOTE_ADDR": address}).status_code

        def counted(address: str) -> list[str]:
            return [key for key in promoted.scan_iter(match=f"{worker.config['REDIS_PREFIX']}rl*") if f"/ip:{address}/" in key]

        def counts_on_the_new_master() -> bool:
            address = next(addresses)
            sign_in(address)
            return bool(counted(address))

        wait_for(counts_on_the_new_master, 40, "the rate limits counting on the new master")
        address = next(addresses)
        answers = [sign_in(address) for _ in range(4)]
        assert 429 not in answers[:3] and answers[3] == 429, answers  # RATELIMIT_SIGNIN_PER_IP is 3/minute
        assert [int(promoted.get(key)) >= 3 for key in counted(address)] == [True]

