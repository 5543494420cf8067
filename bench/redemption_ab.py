"""A/B of one setting under the redemption load, both variants in the same run.

    .venv/bin/python bench/redemption_ab.py --setting PGOPTIONS --values="-c commit_delay=0,-c commit_delay=100" [--rounds 5]
    .venv/bin/python bench/redemption_ab.py --setting GUNICORN_CMD_ARGS --values="--chdir /tmp/old,--chdir $PWD"
    .venv/bin/python bench/redemption_ab.py --load issue --setting GUNICORN_CMD_ARGS --values=... --with-ping

(The second compares two checkouts of the code, e.g. one made by `git worktree add /tmp/old <commit>`:
gunicorn's --chdir loads the app from there; the database schema must be the same.)

This VM's speed drifts by tens of percent within minutes, so two benchmark runs made one after the
other cannot tell a few percent apart. This starts one gunicorn per value of the setting on the
same fresh database (as bench/redemption_bench.py, whose load it reuses), then alternates their
redemption rounds (A B, B A, ...) and prints, per round and as medians: redemptions per second,
p99, the CPU every process spent per redemption, and how busy that kept the cores (rate x CPU per
request / cores), which is what the hello-world ratio misses when cores sit idle. `--load issue`
drives `POST /api/pass` (the demo citizen) instead of redemptions. `--with-ping` adds, before each
round, one of a bare Flask hello-world (bench/hello_world.py, one more gunicorn with the same
settings: the baseline of every ratio) and one of each value's `GET /api/ping`. `--watch-wal-flush`
prints, per redemption round, the longest a commit waited for the disk (harness.WalFlushWatch): a
round with a stall of the disk is the disk's measure more than the code's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    COUNTING_LUA, HELLO_WORLD_APP, WalFlushWatch, cpu_seconds_by_process, cpu_us_per_request, demo_database,
    flask_cli, gunicorn, warm_up, wrk)
from redemption_bench import REDEEM_LUA, write_bodies  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", required=True, help="an environment setting of the app (docs/settings.md)")
    parser.add_argument("--values", required=True, help="comma-separated values to compare")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate-ceiling", type=int, default=5000, help="passes prepared per second of load")
    parser.add_argument("--load", choices=["redeem", "issue"], default="redeem")
    parser.add_argument("--with-ping", action="store_true",
                        help="also bare hello-world and ping rounds before each round, for each value's ratios")
    parser.add_argument("--watch-wal-flush", action="store_true",
                        help="print per round the longest a commit waited for the disk (redemption load)")
    args = parser.parse_args()
    values = args.values.split(",")
    cores = os.cpu_count() or 1
    with demo_database("postgresql", PASS_TTL_SECONDS="900") as env, tempfile.TemporaryDirectory() as tmp:
        paths = {(value, n): Path(tmp) / f"bodies-{n}-{index}.jsonl"
                 for index, value in enumerate(values) for n in range(args.rounds + 1)}
        counts = [args.rate_ceiling * (2 if n == 0 else args.seconds) for (_, n) in paths]
        if args.load == "redeem":
            token = write_bodies(env, counts, list(paths.values()))
        else:
            citizen = flask_cli(env, "demo", "token", "citizen")
            post = dict(method="POST", body="{}", headers={"Authorization": f"Bearer {citizen}",
                                                            "Content-Type": "application/json"})
        results: dict[str, list[tuple[float, float, int, float]]] = {value: [] for value in values}
        pings: dict[str, list[float]] = {value: [] for value in values}
        hellos: list[float] = []
        with ExitStack() as servers:
            bases = {value: servers.enter_context(gunicorn({**env, args.setting: value})) for value in values}
            bare = servers.enter_context(gunicorn(env, app=HELLO_WORLD_APP, ready_path="/")) if args.with_ping else None

            def redeem(value: str, n: int, seconds: int):
                if args.load == "issue":
                    return wrk(bases[value] + "/api/pass", seconds=seconds, connections=args.connections, threads=2,
                               **post)
                return wrk(bases[value], seconds=seconds, connections=args.connections, threads=2,
                           script=COUNTING_LUA + REDEEM_LUA, script_args=["2", str(paths[(value, n)]), token])

            if bare:
                warm_up(bare + "/", connections=args.connections, threads=2)
            for value in values:
                warm_up(bases[value] + "/api/ping", connections=args.connections, threads=2)
                redeem(value, 0, 2)
            for n in range(1, args.rounds + 1):
                if bare:
                    hello = wrk(bare + "/", seconds=args.seconds, connections=args.connections, threads=2)
                    hellos.append(hello.rate)
                    print(f"round {n} bare hello world: {hello.rate:7.1f} req/s  p99 {hello.p99_ms:5.1f} ms", flush=True)
                for value in (values if n % 2 else values[::-1]):
                    if args.with_ping:
                        ping = wrk(bases[value] + "/api/ping", seconds=args.seconds, connections=args.connections, threads=2)
                        pings[value].append(ping.rate)
                        print(f"round {n} {args.setting}={value}: {ping.rate:7.1f} pings/s  p99 {ping.p99_ms:5.1f} ms", flush=True)
                    before = cpu_seconds_by_process()
                    with WalFlushWatch(env["DATABASE_URL"]) if args.watch_wal_flush else nullcontext() as watch:
                        run = redeem(value, n, args.seconds)
                    cpu = cpu_us_per_request(before, cpu_seconds_by_process(), run.requests)
                    total = sum(cpu.values())
                    busy = run.rate * total / 1e6 / cores
                    assert run.only(201), run.statuses
                    unit = "redemptions" if args.load == "redeem" else "passes"
                    results[value].append((run.rate, run.p99_ms, total, busy))
                    flush = f"  longest commit flush wait {watch.longest_ms:.0f} ms" if watch else ""
                    print(f"round {n} {args.setting}={value}: {run.rate:7.1f} {unit}/s  p99 {run.p99_ms:5.1f} ms  "
                          f"CPU {total} us per request {cpu}  cores busy {busy:.0%}{flush}", flush=True)
    print(f"cpus {cores}, load {args.load}, {args.rounds} rounds x {args.seconds} s per value, "
          f"{args.connections} connections")
    if hellos:
        print(f"bare hello world: median {statistics.median(hellos):7.1f} req/s")
    for value in values:
        rows = results[value]
        rate = statistics.median(r[0] for r in rows)
        print(f"{args.setting}={value}: median {rate:7.1f} req/s (spread between rounds "
              f"{min(r[0] for r in rows):.0f}-{max(r[0] for r in rows):.0f}), p99 {statistics.median(r[1] for r in rows):5.1f} ms, "
              f"CPU {statistics.median(r[2] for r in rows):5.0f} us per request, "
              f"cores busy {statistics.median(r[3] for r in rows):.0%}")
        if pings[value]:
            ping_rate, hello_rate = statistics.median(pings[value]), statistics.median(hellos)
            print(f"{args.setting}={value}: ratio {rate / hello_rate:.1%} of the bare hello world, "
                  f"{rate / ping_rate:.1%} of its ping ({ping_rate:7.1f} pings/s)")
    if len(values) == 2:
        pairs = [a[0] / b[0] for a, b in zip(results[values[1]], results[values[0]])]
        print(f"{values[1]} against {values[0]}, round by round: "
              + ", ".join(f"{pair - 1:+.1%}" for pair in pairs) + f"; median {statistics.median(pairs) - 1:+.1%}")


if __name__ == "__main__":
    main()
