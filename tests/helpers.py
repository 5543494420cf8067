"""What several test modules share and is not a fixture: the run's settings, fresh databases and
apps, gunicorn as in production, watching SQL, and the small domain helpers. Test modules import
from here, never from one another or from a conftest.py."""
from __future__ import annotations

import base64
import contextlib
import importlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import event, func, select, text

from backend import create_app
from backend.changefeed import current_feed
from backend.errors import DomainError
from backend.extensions import db
from backend.merchants.models import Redemption

codec = importlib.import_module("backend.pass.codec")
key_ring_changed = importlib.import_module("backend.pass.context").key_ring_changed
PassKey = importlib.import_module("backend.pass.models").PassKey

# -- the run ------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
TEST_DB = os.environ.get("TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def server_missing(what: str, error: Exception):
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.exit(f"CI=true and {message}; the tests need it", returncode=3)
    pytest.skip(message)


# -- databases and apps -------------------------------------------------------------------------

@contextmanager
def fresh_database(tmp_path_factory, label: str):
    """Yields the URL of an empty database of TEST_DB's kind, private to this run; dropped afterwards."""
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(label) / f'{label}.sqlite3'}"
        return
    name = f"xym_{label}_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'create database "{name}"')
    except psycopg.OperationalError as error:
        server_missing("PostgreSQL", error)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


def test_config(database_url: str, redis_url: str, prefix: str) -> dict:
    return {
        "TESTING": True,
        "DEMO": True,
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "PASS_KEY_SECRET": "test-pass-key-secret",
        "IDENTITY_PEPPER": "test-identity-pepper",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "ARGON2_PROFILE": "CHEAPEST",  # the production profile costs ~0.2 s a hash; no test needs its cost
    }


test_config.__test__ = False  # a helper, not a test, whatever its name says


def dispose(application) -> None:
    """Stop its change feed and close pooled connections, so the test database can be dropped and no
    socket leaks a warning."""
    with application.app_context():
        current_feed().stop()
        db.engine.dispose()


@contextmanager
def app_maker(database_url: str, redis_url: str, prefix: str):
    """Yields make(**overrides) -> a new app on that database; every app made is disposed at the end."""
    made = []

    def _make(**overrides):
        application = create_app({**test_config(database_url, redis_url, prefix), **overrides})
        made.append(application)
        return application

    try:
        yield _make
    finally:
        for application in made:
            dispose(application)


# Reference rows as the early releases wrote them (today's `demo seed` needs today's schema): a dining
# partner with its 98% perk, and one person of tier 2. What `database_at` puts in an old schema.
OLD_REFERENCE_ROWS = (
    "insert into scenarios (code, name) values ('dining', '信易+餐饮')",
    "insert into partners (name, scenario_id, active, created_at) "
    "select '辣盆盆小龙虾饭店', id, true, current_timestamp from scenarios",
    "insert into perks (partner_id, kind, title, discount_permille, holder_kinds, min_tier_level, active) "
    "select id, 'discount', '九八折优惠', 980, 'person,company', 1, true from partners",
    "insert into credit_subjects (kind, identity_hash, score, red_listed, black_listed, tier_level, "
    "source_updated_at, updated_at) values ('person', 'h-1', 1120, false, false, 2, current_timestamp, "
    "current_timestamp)",
)


@contextmanager
def database_at(tmp_path_factory, redis_url: str, redis_prefix: str, *, label: str, revision: str):
    """Yields an app on a fresh database of its own, migrated only to `revision` and holding
    OLD_REFERENCE_ROWS: the test writes its rows as that release did, then migrates on (`upgrade()`)."""
    from flask_migrate import upgrade

    with fresh_database(tmp_path_factory, label) as url, app_maker(url, redis_url, redis_prefix) as make:
        app = make()
        with app.app_context():
            upgrade(revision=revision)
            for statement in OLD_REFERENCE_ROWS:
                db.session.execute(text(statement))
            db.session.commit()
        yield app


# What the demo seed and the fixtures put in place and every test may read: everything else in the
# schema is what tests record (redemptions, audit, sessions, ...) and is emptied after each test, so a
# new table is cleaned unless it is named here. Rows a test adds to these tables are its own to remove.
REFERENCE_TABLES = frozenset({
    "scenarios", "partners", "perks", "holiday_calendar_days", "holiday_calendar_years", "merchant_staff", "devices",
    "office_users", "tiers", "tier_rules", "credit_subjects", "citizen_accounts", "company_representatives",
    "pass_issuers", "pass_keys", "pass_seal_keys", "areas",
})


def clear_mutable_tables() -> None:
    """Forget what a test recorded, children before parents (in the current app context)."""
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        if table.name not in REFERENCE_TABLES:
            db.session.execute(table.delete())
    db.session.commit()


# -- gunicorn -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_env(app, port: int, *, workers: int = 2, **settings: str) -> dict:
    """The environment of a gunicorn serving wsgi:app on `app`'s database, Redis prefix and secrets."""
    config = app.config
    return {**os.environ, "DEMO": "1", "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": config["REDIS_URL"], "REDIS_PREFIX": config["REDIS_PREFIX"],
            "SECRET_KEY": config["SECRET_KEY"], "PASS_KEY_SECRET": config["PASS_KEY_SECRET"],
            "IDENTITY_PEPPER": config["IDENTITY_PEPPER"], "HOST": "127.0.0.1", "PORT": str(port),
            "WEB_CONCURRENCY": str(workers), "PYTHONPATH": str(ROOT), **settings}


class Gunicorn:
    """gunicorn serving wsgi:app on a test app's database, Redis prefix and secrets, as in production."""

    def __init__(self, app, log_path: Path, workers: int = 2, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = gunicorn_env(app, self.port, workers=workers, **(env or {}))
        self.log_path = log_path
        self.log = open(log_path, "wb")
        # Its own process group, so that kill() takes the workers down with the master, like a crash.
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.base}/api/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass  # not listening yet, or still booting its workers
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"gunicorn did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL to the whole group: no graceful shutdown, nothing flushed, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)
        self.log.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self.log.close()


# -- watching what the code does ----------------------------------------------------------------

@contextmanager
def statements_sent(engine, *, this_thread_only: bool = False, first_word: bool = False):
    """The SQL statements `engine` sends while the block runs (a list filled as they go): only the
    calling thread's with `this_thread_only` (not the change feed's own reloads, nor other
    requests'), and only each statement's first word, upper-cased, with `first_word`."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn, cursor, statement, *args):
        if not this_thread_only or threading.get_ident() == me:
            seen.append(statement.split(None, 1)[0].upper() if first_word else statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def wait_until(predicate, *, seconds: float = 3.0, what: str = "the change feed") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not get there in {seconds} s"
        time.sleep(0.005)


# -- the domain ---------------------------------------------------------------------------------

def utc(**delta) -> datetime:
    return datetime.now(timezone.utc) + timedelta(**delta)


def body(token: str, perk: int, **fields) -> dict:
    """The JSON body of POST /api/redemptions, scanned now, for 100 yuan."""
    return {"token": token, "perk_id": perk, "client_id": str(uuid.uuid4()), "scanned_at": utc().isoformat(),
            "amount_fen": 10000, **fields}


def race(url: str, headers: dict, bodies: list[dict]) -> list[requests.Response]:
    """Send every body at the same instant, each from its own session (its own connection)."""
    barrier = threading.Barrier(len(bodies))

    def send(sent):
        with requests.Session() as session:
            barrier.wait()
            return session.post(f"{url}/api/redemptions", json=sent, headers=headers, timeout=30)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def recorded(perk: int, holder: int | None = None) -> int:
    """Redemptions at the perk (of one holder: warm-ups redeem for others)."""
    db.session.rollback()
    query = select(func.count()).select_from(Redemption).where(Redemption.perk_id == perk)
    if holder is not None:
        query = query.where(Redemption.subject_id == holder)
    return db.session.scalar(query)


def refused(code: str, call, *args, **kwargs) -> DomainError:
    """The DomainError that call(*args, **kwargs) raises, once its code is checked."""
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


class Phone:
    """A signed-in demo user's calls against one app (one worker)."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self._tokens: dict[str, str] = {}

    def header(self, role: str) -> dict:
        if role not in self._tokens:
            result = self.app.test_cli_runner().invoke(args=["demo", "token", role])
            assert result.exit_code == 0, result.output
            self._tokens[role] = result.stdout.strip()
        return {"Authorization": f"Bearer {self._tokens[role]}"}

    def issue(self, role: str = "citizen", **body):
        return self.client.post("/api/pass", headers=self.header(role), json=body)

    def verify(self, token: str, role: str = "cashier"):
        return self.client.post("/api/pass/verify", headers=self.header(role), json={"token": token})

    def cli(self, *args: str):
        return self.app.test_cli_runner().invoke(args=list(args))


def age_keys(app, *, hours: int = 1) -> None:
    """Date every key from `hours` ago, as a key in service for a while is (a pass can only predate
    its key by the skew, so an expired pass needs a key older than its lifetime)."""
    with app.app_context():
        for key in db.session.scalars(select(PassKey)):
            key.not_before = key.not_before - timedelta(hours=hours)
        db.session.commit()
        key_ring_changed()


def kid_of(token: str) -> int:
    return codec.decode_unverified(token)[0].kid


def tamper(text: str) -> str:
    """The same pass with one bit of its signature flipped: still well-formed, no longer signed."""
    raw = bytearray(codec.b45decode(text[len(codec.PREFIX):]))
    raw[codec.SIGNED_LEN + 10] ^= 0x01
    return codec.PREFIX + codec.b45encode(bytes(raw))


# -- the pass format's shared test vectors (the scanner's JavaScript tests read the same file) ---

VECTORS_PATH = ROOT / "tests" / "vectors" / "pass.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# The vectors' key list is read as docs/pass-format.md says a verifier reads `GET /api/pass/keys`:
# every listed issuer is trusted, keys it cannot use are dropped.
LISTED = {(issuer["issuer"], key["kid"]): codec.verifier_key_from_listing(key)
          for issuer in VECTORS["issuers"] for key in issuer["keys"]}
KEYS = {where: key for where, key in LISTED.items() if key is not None}
ISSUERS = {issuer["issuer"] for issuer in VECTORS["issuers"]}
LEVELS = {int(level) for level in VECTORS["tier_levels"]}
# An issuer entry with its own `tier_levels` (a partner city with another ladder): rule 9 reads its passes by them.
ISSUER_LEVELS = {issuer["issuer"]: {int(level) for level in issuer["tier_levels"]}
                 for issuer in VECTORS["issuers"] if issuer.get("tier_levels") is not None}


def verify_with_vectors(text: str, now: int = VECTORS["now"], find_key=lambda i, k: KEYS.get((i, k))):
    """Verify a pass against the vectors' keys, issuers and tiers, at the vectors' time (or `now`)."""
    return codec.verify_pass(text, find_key=find_key, is_known_issuer=ISSUERS.__contains__,
                             tier_levels=LEVELS, now=now, skew=VECTORS["skew_seconds"],
                             issuer_tier_levels=ISSUER_LEVELS)
