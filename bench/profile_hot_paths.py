"""Where the time of the two hot requests goes, in-process (no gunicorn, no wrk): a tool, not a target.

    .venv/bin/python bench/profile_hot_paths.py [--db postgresql|sqlite] [-n 3000] [--profile issue|redeem|ping]
    .venv/bin/python bench/profile_hot_paths.py --split redeem   # CPU per request of its parts (inclusive)
    .venv/bin/python bench/profile_hot_paths.py --statements redeem   # the SQL one request sends
    GC_TIMING=1 .venv/bin/python bench/profile_hot_paths.py --only redeem   # CPU per request, the collector's share
    valgrind --tool=callgrind .venv/bin/python bench/profile_hot_paths.py --only redeem -n N   # instructions

Builds a fresh demo database (bench/harness.py), then times `GET /api/ping`, `POST /api/pass` and
`POST /api/redemptions` (a fresh pass and client id each) through Flask's test client, printing the
CPU and wall time per request. With --profile it prints cProfile's top functions for one of them;
with --split, the CPU each part of it takes without a profiler's distortion (SPLITS below, and
every app-wide hook). With --only it just runs one of them n times: under callgrind, the difference
of two runs' instruction counts (n = 1000 and 200) over 800 is a request's instructions, the same on
a busy machine as on a quiet one (this is how the redemption's cursor reuse was measured).
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import os
import importlib
import pstats
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import cpu_seconds_by_process, demo_database  # noqa: E402


# Parts timed by --split: (module, attribute), or ("view", endpoint) for the whole decorated view
# (authentication, input parsing, output); each inclusive of what it calls.
SPLITS = {
    "redeem": [("view", "merchants.redeem"),
               ("backend.merchants.service", "redeem"), ("backend.pass.service", "verify"),
               ("backend.pass.service", "open_reference"), ("backend.merchants.service", "_row"),
               ("backend.merchants.store", "RedemptionStore.insert"), ("backend.merchants.store", "_execute"),
               ("backend.group_commit", "GroupCommit.insert"), ("backend.merchants.service", "_read_perk"),
               ("backend.merchants.history", "holder_alias"),
               ("backend.merchants.views", "key_context"), ("backend.merchants.views", "schema_json"),
               ("backend.merchants.views", "redemption_json"), ("flask_httpauth", "HTTPTokenAuth.authenticate"), ("backend.auth.guard", "_verify"),
               ("apiflask.schema_adapters.pydantic", "PydanticAdapter.validate_input"),
               ("nacl.signing", "VerifyKey.verify"), ("psycopg", "Cursor.execute")],
    "issue": [("view", "pass.issue_pass"), ("backend.auth.guard", "_verify"), ("backend.pass.flows", "issue_for"),
              ("backend.auth.holders", "holder_subject")],
    "ping": [],
}


def timed_parts(app, names: list[tuple[str, str]]) -> dict[str, float]:
    """Wrap each part so that its CPU time adds up in the returned dict (seconds)."""
    spent: dict[str, float] = {}

    def timed(original, label):
        spent[label] = 0.0

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start
        return wrapper

    for registry in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
                     "teardown_appcontext_funcs"):
        hooks = getattr(app, registry)
        if isinstance(hooks, dict):
            for blueprint, funcs in hooks.items():
                if blueprint is None:  # the app's own hooks run for every request
                    funcs[:] = [timed(f, f"hook {f.__module__}.{f.__qualname__}") for f in funcs]
        else:
            hooks[:] = [timed(f, f"hook {f.__module__}.{f.__qualname__}") for f in hooks]
    for module_name, attribute in names:
        if module_name == "view":
            app.view_functions[attribute] = timed(app.view_functions[attribute], f"view {attribute}")
        else:  # a module's function, or "Class.method"
            owner = importlib.import_module(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            setattr(owner, name, timed(getattr(owner, name), f"{module_name}.{attribute}"))
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--profile", choices=["ping", "issue", "redeem"])
    parser.add_argument("--split", choices=["ping", "issue", "redeem"])
    parser.add_argument("--statements", choices=["ping", "issue", "redeem"])
    parser.add_argument("--only", choices=["ping", "issue", "redeem"],
                        help="just run it n times (for valgrind --tool=callgrind: instructions, not seconds, "
                             "repeatable on a busy machine; run two n and subtract)")
    args = parser.parse_args()

    from sqlalchemy import select

    from backend import create_app
    from backend.auth.models import CitizenAccount, MerchantStaff
    from backend.auth.service import Principal, issue_access_token
    from backend.credit.models import CreditSubject
    from backend.extensions import db
    from backend.merchants.models import Partner

    with demo_database(args.db, PASS_TTL_SECONDS="600") as env:
        app = create_app({"DEMO": True, "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
                          "REDIS_URL": env["REDIS_URL"], "REDIS_PREFIX": env["REDIS_PREFIX"],
                          "SECRET_KEY": env["SECRET_KEY"], "PASS_KEY_SECRET": env["PASS_KEY_SECRET"],
                          "IDENTITY_PEPPER": env["IDENTITY_PEPPER"], "PASS_TTL_SECONDS": 600,
                          "RATELIMIT_ENABLED": False})
        pass_service = importlib.import_module("backend.pass.service")
        key_context = importlib.import_module("backend.pass.context").key_context
        with app.app_context():
            partner = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
            perk_id = partner.perks[0].id
            cashier = db.session.scalar(select(MerchantStaff).where(MerchantStaff.partner_id == partner.id,
                                                                    MerchantStaff.role == "cashier"))
            citizen = db.session.scalar(select(CitizenAccount).where(CitizenAccount.subject_id.is_not(None)))
            holders = list(db.session.execute(select(CreditSubject.id, CreditSubject.kind, CreditSubject.tier_level)
                                              .where(CreditSubject.tier_level >= 1,
                                                     CreditSubject.black_listed.is_(False))))
            ctx = key_context()
            now = datetime.now(timezone.utc).isoformat()
            bodies = [{"token": pass_service.issue(ctx=ctx, holder_id=h[0], holder_kind=h[1], tier_level=h[2]).token,
                       "perk_id": perk_id, "client_id": str(uuid.uuid4()), "scanned_at": now, "amount_fen": 100 + n}
                      for n, h in ((n, holders[n % len(holders)]) for n in range(args.n + 100))]
            cashier_token = issue_access_token(secret=env["SECRET_KEY"], minutes=60, principal=Principal(
                kind="staff", id=cashier.id, role="cashier", partner_id=partner.id, session_id="bench"))
            citizen_token = issue_access_token(secret=env["SECRET_KEY"], minutes=60, principal=Principal(
                kind="citizen", id=citizen.id, role="citizen", session_id="bench"))
        client = app.test_client()
        remaining = iter(bodies)

        def ping():
            assert client.get("/api/ping").status_code == 200

        def issue():
            response = client.post("/api/pass", json={}, headers={"Authorization": f"Bearer {citizen_token}"})
            assert response.status_code == 201, response.get_json()

        def redeem():
            response = client.post("/api/redemptions", json=next(remaining),
                                   headers={"Authorization": f"Bearer {cashier_token}"})
            assert response.status_code == 201, response.get_json()

        actions = {"ping": ping, "issue": issue, "redeem": redeem}
        for action in actions.values():  # warm: imports, pools, caches
            for _ in range(30):
                action()
        if args.only:
            import gc
            spent, started, counts = [0.0], [0.0], {0: 0, 1: 0, 2: 0}

            def timing(phase, info):
                if phase == "start":
                    started[0] = time.perf_counter()
                else:
                    spent[0] += time.perf_counter() - started[0]
                    counts[info["generation"]] += 1
            if os.environ.get("GC_TIMING"):
                gc.callbacks.append(timing)
            cpu = time.process_time()
            for _ in range(args.n):
                actions[args.only]()
            if os.environ.get("GC_TIMING"):
                print(f"{(time.process_time() - cpu) / args.n * 1e6:.0f} us CPU per request, of which the garbage "
                      f"collector {spent[0] / args.n * 1e6:.1f} us; collections by generation {counts}")
            return
        if args.statements:  # the app's engine hears the autocommit engine's statements too
            from sqlalchemy import event
            sent: list[str] = []
            with app.app_context():
                engine = db.engine
            event.listen(engine, "before_cursor_execute", lambda *a: sent.append(" ".join(a[2].split())[:160]))
            for _ in range(args.n):
                actions[args.statements]()
            print(f"{args.statements}: {len(sent) / args.n:.2f} statements per request; the last request's:")
            for statement in sent[-round(len(sent) / args.n):]:
                print("  " + statement)
            return
        if args.split:
            spent = timed_parts(app, SPLITS[args.split])
            cpu = time.process_time()
            for _ in range(args.n):
                actions[args.split]()
            total = time.process_time() - cpu
            print(f"{args.split}: {total / args.n * 1e6:7.0f} us CPU per request through the test client, of which")
            for label, seconds in spent.items():
                print(f"  {seconds / args.n * 1e6:7.0f} us  {label}")
            return
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU, not wall: waits on the database are not work
            profiler.enable()
            for _ in range(args.n):
                actions[args.profile]()
            profiler.disable()
            if os.environ.get("PROFILE_OUT"):  # for pstats / snakeviz: callers, callees
                profiler.dump_stats(os.environ["PROFILE_OUT"])
            pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("LINES", "45")))
            return
        for name, action in actions.items():
            server, cpu, wall = cpu_seconds_by_process(), time.process_time(), time.perf_counter()
            for _ in range(args.n):
                action()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            database = cpu_seconds_by_process().get("postgres", 0.0) - server.get("postgres", 0.0)
            print(f"{name:7s} {cpu / args.n * 1000:6.3f} ms CPU  {wall / args.n * 1000:6.3f} ms wall per request; "
                  f"the database server {database / args.n * 1000:6.3f} ms CPU (one request at a time)")


if __name__ == "__main__":
    main()
