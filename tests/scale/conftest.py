"""A PostgreSQL primary and its streaming replica, made for the module by the tests themselves.

Debian's PostgreSQL 15 server binaries (in `pg_config --bindir`) with their own data directories and
loopback ports, not the machine's shared server: `initdb`, a primary with `wal_level=replica`,
`pg_basebackup -R` into a second directory, the replica started on another port, and both stopped
(`pg_ctl stop -m fast`) at the end. The binaries refuse to run as root, so as root they run as
`postgres`, in a directory it owns. Under CI=true missing binaries fail the run; elsewhere the
tests are skipped with the reason. They run in the PostgreSQL pass only (TEST_DB=postgresql).
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.helpers import TEST_DB, dispose, free_port, server_missing, test_config

START_SECONDS = 60


def bindir() -> Path | None:
    try:
        found = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
                     .stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return None
    return found if (found / "initdb").exists() and (found / "pg_basebackup").exists() else None


@dataclass
class Server:
    data: Path
    port: int
    bin: Path
    as_postgres: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.data), *args], check=check)

    def start(self, *settings: str) -> None:
        options = " ".join([f"-p {self.port}", f"-k {self.data.parent}", "-c listen_addresses=127.0.0.1",
                            *(f"-c {setting}" for setting in settings)])
        self.pg_ctl("-l", str(self.data.parent / f"{self.data.name}.log"), "-w", "-t", str(START_SECONDS),
                    "-o", options, "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("-w", "-m", "fast", "stop", check=False)

    def sql(self, statement: str, params=None):
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


def run(command: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=START_SECONDS + 30)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Pair:
    primary: Server
    replica: Server

    def wait_until_replayed(self, seconds: float = 20) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        position = self.primary.sql("select pg_current_wal_lsn()::text")[0][0]
        deadline = time.monotonic() + seconds
        while not self.replica.sql("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,))[0][0]:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def replica_pair():
    """A primary with a streaming replica, both on loopback ports of their own; stopped at the end."""
    if TEST_DB != "postgresql":
        pytest.skip("the replica's tests run in the PostgreSQL pass (TEST_DB=postgresql)")
    binaries = bindir()
    if binaries is None:
        server_missing("PostgreSQL's server binaries (pg_config --bindir)", FileNotFoundError("initdb"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # A short path: the servers' unix sockets live in it, and a socket path has a length limit.
    root = Path(tempfile.mkdtemp(prefix="xymrep"))
    if as_postgres:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    primary = Server(root / "primary", free_port(), binaries, as_postgres)
    replica = Server(root / "replica", free_port(), binaries, as_postgres)
    try:
        # Trust on loopback (initdb's default pg_hba.conf lets it replicate too); no fsync: a test's data.
        run([*as_postgres, str(binaries / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync"])
        primary.start("wal_level=replica", "max_wal_senders=4", "fsync=off", "full_page_writes=off")
        run([*as_postgres, str(binaries / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
             "-U", "postgres", "-D", str(replica.data), "-R", "-X", "stream", "--no-sync"])
        replica.start("hot_standby=on", "fsync=off")
        deadline = time.monotonic() + START_SECONDS
        while not primary.sql("select count(*) from pg_stat_replication where state = 'streaming'")[0][0]:
            if time.monotonic() > deadline:
                pytest.fail("the replica did not start streaming")
            time.sleep(0.1)
        yield Pair(primary, replica)
    finally:
        replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_app(replica_pair, redis_url, redis_prefix):
    """An app migrated and demo-seeded on the primary, its statistics and case feed reading the replica."""
    from flask_migrate import upgrade

    from backend import create_app
    from backend.extensions import db

    replica_pair.primary.sql("create database xym")
    replica_pair.wait_until_replayed()
    psycopg_url = "postgresql+psycopg://postgres@127.0.0.1:{port}/xym"
    application = create_app({
        **test_config(psycopg_url.format(port=replica_pair.primary.port), redis_url, redis_prefix),
        "SQLALCHEMY_BINDS": {"replica": {"url": psycopg_url.format(port=replica_pair.replica.port),
                                         "connect_args": {"connect_timeout": 2}}},
        "DATABASE_REPLICA_MAX_LAG_SECONDS": 10.0,
        "CASE_FEED_SETTLE_SECONDS": 0,
    })
    with application.app_context():
        upgrade()
        result = application.test_cli_runner().invoke(args=["demo", "seed"])
        assert result.exit_code == 0, result.output
    yield application
    with application.app_context():
        db.engines["replica"].dispose()
    dispose(application)
