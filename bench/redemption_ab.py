"""A/B of one setting under the redemption load, both variants in the same run.

    .venv/bin/python bench/redemption_ab.py --setting PGOPTIONS --values="-c commit_delay=0,-c commit_delay=100" [--rounds 5]
    .venv/bin/python bench/redemption_ab.py --setting GUNICORN_CMD_ARGS --values="--chdir /tmp/old,--chdir $PWD"

(The second compares two checkouts of the code, e.g. one made by `git worktree add /tmp/old <commit>`:
gunicorn's --chdir loads the app from there; the database schema must be the same.)

This VM's speed drifts by tens of percent within minutes, so two benchmark runs made one after the
other cannot tell a few percent apart. This starts one gunicorn per value of the setting on the
same fresh database (as bench/redemption_bench.py, whose load it reuses), then alternates their
redemption rounds (A B, B A, ...) and prints, per round and as medians: redemptions per second,
p99, the CPU every process spent per redemption, and how busy that kept the cores (rate x CPU per
request / cores), which is what the hello-world ratio misses when cores sit idle.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import COUNTING_LUA, cpu_seconds_by_process, cpu_us_per_request, demo_database, gunicorn, warm_up, wrk  # noqa: E402
from redemption_bench import REDEEM_LUA, write_bodies  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", required=True, help="an environment setting of the app (docs/settings.md)")
    parser.add_argument("--values", required=True, help="comma-separated values to compare")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate-ceiling", type=int, default=5000, help="passes prepared per second of load")
    parser.add_argument("--with-ping", action="store_true",
                        help="also a hello-world round before each redemption round, for each value's ratio")
    args = parser.parse_args()
    values = args.values.split(",")
    cores = os.cpu_count() or 1
    with demo_database("postgresql", PASS_TTL_SECONDS="900") as env, tempfile.TemporaryDirectory() as tmp:
        paths = {(value, n): Path(tmp) / f"bodies-{n}-{index}.jsonl"
                 for index, value in enumerate(values) for n in range(args.rounds + 1)}
        counts = [args.rate_ceiling * (2 if n == 0 else args.seconds) for (_, n) in paths]
        token = write_bodies(env, counts, list(paths.values()))
        results: dict[str, list[tuple[float, float, int, float]]] = {value: [] for value in values}
        pings: dict[str, list[float]] = {value: [] for value in values}
        with ExitStack() as servers:
            bases = {value: servers.enter_context(gunicorn({**env, args.setting: value})) for value in values}

            def redeem(value: str, n: int, seconds: int):
                return wrk(bases[value], seconds=seconds, connections=args.connections, threads=2,
                           script=COUNTING_LUA + REDEEM_LUA, script_args=["2", str(paths[(value, n)]), token])

            for value in values:
                warm_up(bases[value] + "/api/ping", connections=args.connections, threads=2)
                redeem(value, 0, 2)
            for n in range(1, args.rounds + 1):
                for value in (values if n % 2 else values[::-1]):
                    if args.with_ping:
                        ping = wrk(bases[value] + "/api/ping", seconds=args.seconds, connections=args.connections, threads=2)
                        pings[value].append(ping.rate)
                        print(f"round {n} {args.setting}={value}: {ping.rate:7.1f} pings/s  p99 {ping.p99_ms:5.1f} ms", flush=True)
                    before = cpu_seconds_by_process()
                    run = redeem(value, n, args.seconds)
                    cpu = cpu_us_per_request(before, cpu_seconds_by_process(), run.requests)
                    total = sum(cpu.values())
                    busy = run.rate * total / 1e6 / cores
                    assert run.only(201), run.statuses
                    results[value].append((run.rate, run.p99_ms, total, busy))
                    print(f"round {n} {args.setting}={value}: {run.rate:7.1f} redemptions/s  p99 {run.p99_ms:5.1f} ms  "
                          f"CPU {total} us per redemption {cpu}  cores busy {busy:.0%}", flush=True)
    print(f"cpus {cores}, {args.rounds} rounds x {args.seconds} s per value, {args.connections} connections")
    for value in values:
        rows = results[value]
        print(f"{args.setting}={value}: median {statistics.median(r[0] for r in rows):7.1f} redemptions/s, "
              f"p99 {statistics.median(r[1] for r in rows):5.1f} ms, CPU {statistics.median(r[2] for r in rows):5.0f} us "
              f"per redemption, cores busy {statistics.median(r[3] for r in rows):.0%}")
        if pings[value]:
            ping_rate = statistics.median(pings[value])
            print(f"{args.setting}={value}: median {ping_rate:7.1f} pings/s, ratio "
                  f"{statistics.median(r[0] for r in rows) / ping_rate:.1%}")


if __name__ == "__main__":
    main()
