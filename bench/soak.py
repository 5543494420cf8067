"""Soak: mixed load on gunicorn for a set time, printed minute by minute.

    .venv/bin/python bench/soak.py --minutes 30          # the official figure (docs/scaling.md)
    .venv/bin/python bench/soak.py --minutes 3 --workers 2 --clients 6

A fresh demo database on PostgreSQL (harness.demo_database), gunicorn with the repo's settings, and
`--clients` load threads, each looping over a mix: issue a pass (a citizen, POST /api/pass), redeem
(a cashier, POST /api/redemptions with a fresh pass of one of the demo's holders and a new client id),
and every tenth round the office's statistics (GET /api/office/stats over the last 30 days, grouped
by partner). Once a minute a credit import of `--import-rows` rows runs (`flask credit import`, the
platform's nightly job, squeezed into the soak). Each minute it prints the requests per second, the
p99 of each kind, the statuses that were not 2xx, each gunicorn worker's RSS and PostgreSQL's
connections to the database; at the end, the first and last minute's RSS side by side. What to look
for: RSS and connections flat after the first minute or two (growth beyond noise is a leak).
"""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from credit_import_bench import write_export  # noqa: E402
from harness import BENCH_CONFIG, PG_ADMIN_URL, ROOT, demo_database, flask_cli, free_port  # noqa: E402

KINDS = ("issue", "redeem", "stats")


class Passes:
    """Fresh passes of the demo's holders, made in this process (Ed25519 signing: ~0.1 ms each)."""

    def __init__(self, env: dict):
        from sqlalchemy import select

        from backend import create_app
        from backend.credit.models import CreditSubject
        from backend.extensions import db

        self.app = create_app({"TESTING": True, "DEMO": True, "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
                               "REDIS_URL": env["REDIS_URL"], "REDIS_PREFIX": env["REDIS_PREFIX"],
                               "SECRET_KEY": env["SECRET_KEY"], "PASS_KEY_SECRET": env["PASS_KEY_SECRET"],
                               "IDENTITY_PEPPER": env["IDENTITY_PEPPER"]})
        self.service = importlib.import_module("backend.pass.service")
        with self.app.app_context():
            self.holders = list(db.session.execute(
                select(CreditSubject.id, CreditSubject.kind, CreditSubject.tier_level)
                .where(CreditSubject.tier_level >= 1, CreditSubject.black_listed.is_(False))))
            self.ctx = importlib.import_module("backend.pass.context").key_context()
            db.session.remove()
        self.lock, self.n = threading.Lock(), 0

    def next(self) -> str:
        with self.lock:
            self.n += 1
            subject_id, kind, tier = self.holders[self.n % len(self.holders)]
        with self.app.app_context():  # the key ring is a watched cache: it asks the app's change feed
            return self.service.issue(ctx=self.ctx, holder_id=subject_id, holder_kind=kind, tier_level=tier).token


class Minute:
    def __init__(self):
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.lock = threading.Lock()

    def record(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if not 200 <= status < 300:
                self.statuses[f"{kind}:{status}"] += 1


def p99_ms(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def worker_rss_mb(master_pid: int) -> list[float]:
    """RSS of every child of the gunicorn master, from /proc."""
    rss = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != master_pid:
                continue
            status = (entry / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
    return sorted(rss)


def pg_connections(database: str) -> int:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        return admin.execute("select count(*) from pg_stat_activity where datname = %s", (database,)).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=6, help="load threads")
    parser.add_argument("--import-rows", type=int, default=20_000)
    args = parser.parse_args()

    with demo_database("postgresql") as env, tempfile.TemporaryDirectory() as tmp:
        database = env["DATABASE_URL"].rsplit("/", 1)[1]
        citizen = {"Authorization": f"Bearer {flask_cli(env, 'demo', 'token', 'citizen')}"}
        cashier = {"Authorization": f"Bearer {flask_cli(env, 'demo', 'token', 'cashier')}"}
        analyst = {"Authorization": f"Bearer {flask_cli(env, 'demo', 'token', 'office-analyst')}"}
        export = Path(tmp) / "export.csv"
        write_export(export, args.import_rows, "utf8")  # the platform's own CSV
        passes = Passes(env)

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(BENCH_CONFIG), "wsgi:app"], cwd=ROOT,
            env={**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(args.workers)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if requests.get(base + "/api/ping", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            partners = requests.get(base + "/api/partners", timeout=10).json()["partners"]
            perk_id = next(p for p in partners if p["name"] == "辣盆盆小龙虾饭店")["perks"][0]["id"]
            today = datetime.now(timezone.utc).date()
            stats_url = (f"{base}/api/office/stats?group_by=partner&from={today - timedelta(days=30)}&to={today}")

            current, stop = Minute(), threading.Event()

            def client() -> None:
                session, rounds = requests.Session(), 0
                while not stop.is_set():
                    rounds += 1
                    steps = [("issue", lambda: session.post(base + "/api/pass", json={}, headers=citizen, timeout=30)),
                             ("redeem", lambda: session.post(base + "/api/redemptions", headers=cashier, timeout=30, json={
                                 "token": passes.next(), "perk_id": perk_id, "client_id": str(uuid.uuid4()),
                                 "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 10000}))]
                    if rounds % 10 == 0:
                        steps.append(("stats", lambda: session.get(stats_url, headers=analyst, timeout=30)))
                    for kind, send in steps:
                        started = time.perf_counter()
                        try:
                            status = send().status_code
                        except requests.RequestException:
                            status = 599
                        current.record(kind, time.perf_counter() - started, status)

            threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            print(f"soak: {args.minutes} min, {args.workers} gevent workers, {args.clients} clients, "
                  f"an import of {args.import_rows} rows each minute")
            print("min  req/s  p99 issue/redeem/stats ms   not-2xx        worker RSS MB        PG conns  import s")
            started, minute, first_rss = time.monotonic(), 0, None
            while minute < args.minutes:
                minute += 1
                importing = time.monotonic()
                flask_cli(env, "credit", "import", str(export))
                import_seconds = time.monotonic() - importing
                time.sleep(max(0.0, started + 60 * minute - time.monotonic()))
                done, current = current, Minute()
                count = sum(len(v) for v in done.latencies.values())
                rss = worker_rss_mb(server.pid)
                first_rss = first_rss or rss
                p99 = "/".join(f"{p99_ms(done.latencies[k]):.0f}" for k in KINDS)
                print(f"{minute:>3}  {count / 60:>5.0f}  {p99:>24}   {dict(done.statuses) or '-'!s:<13}"
                      f"  {' '.join(f'{r:.0f}' for r in rss):<20}  {pg_connections(database):>8}  {import_seconds:>8.1f}",
                      flush=True)
            stop.set()
            for thread in threads:
                thread.join(30)
            last_rss = worker_rss_mb(server.pid)
            print(f"worker RSS MB, first minute -> last: {' '.join(f'{r:.0f}' for r in first_rss or [])} -> "
                  f"{' '.join(f'{r:.0f}' for r in last_rss)}")
        finally:
            server.terminate()
            server.wait(30)
            with passes.app.app_context():
                from backend.changefeed import current_feed
                from backend.extensions import db
                current_feed().stop()
                db.engine.dispose()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
