"""Benchmark: issuing passes against the hello-world baseline, and the time to render one QR PNG.

    .venv/bin/python bench/pass_bench.py [--db postgresql|sqlite] [--seconds 10] [--rounds 2]

Makes a fresh demo database (migrations + `flask demo seed`), starts gunicorn with the repo's
gunicorn.conf.py (access log off, RATELIMIT_DISABLED=1), and drives it with wrk, alternating
a bare Flask hello-world (bench/hello_world.py, served by a second gunicorn with the same settings:
the baseline), the app's own `GET /api/ping` (which runs the app's request hooks; reported for
reference) and `POST /api/pass` with the demo citizen's token, `--rounds` times each, so all see the
same machine. Prints requests/s and p99 of each round, the medians and the ratios; then the median time to render one PNG (and SVG) of a pass in-process,
next to what qrcode's own automatic mask search costs. Exit status 0 when both targets are met:
issuing >= 50% of the hello-world rate, PNG render <= 3 ms median.
"""
from __future__ import annotations

import argparse
import importlib
import io
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import HELLO_WORLD_APP, demo_database, flask_cli, gunicorn, server_shape, warm_up, wrk  # noqa: E402


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def render_times(repeat: int) -> dict:
    """Median ms to render one pass's PNG and SVG (ours), and one PNG with qrcode's automatic mask search."""
    import qrcode
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from qrcode.constants import ERROR_CORRECT_M

    codec = importlib.import_module("backend.pass.codec")
    qr = importlib.import_module("backend.pass.qr")
    key, now = Ed25519PrivateKey.generate(), int(time.time())
    texts = [codec.encode_pass(private_key=key, issuer=230184, kid=1, kind="person", tier=2, issued_at=now,
                               expires_at=now + 60, sealed_ref=os.urandom(16)) for _ in range(64)]
    cycle = itertools.cycle(texts)
    qr.png(texts[0])  # warm the per-version layout cache

    def library_default():
        made = qrcode.QRCode(version=6, error_correction=ERROR_CORRECT_M, box_size=8, border=4)
        made.add_data(next(cycle), optimize=0)
        made.make(fit=False)
        made.make_image().save(io.BytesIO(), format="PNG")

    return {
        "png": median_ms(lambda: qr.png(next(cycle)), repeat),
        "svg": median_ms(lambda: qr.svg(next(cycle)), repeat),
        "qrcode_default_png": median_ms(library_default, max(50, repeat // 10)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--renders", type=int, default=1000)
    args = parser.parse_args()

    load = dict(seconds=args.seconds, connections=args.connections, threads=args.wrk_threads)
    hello, ping, issue = [], [], []
    with demo_database(args.db) as env:
        token = flask_cli(env, "demo", "token", "citizen")
        post = dict(method="POST", body="{}", headers={"Authorization": f"Bearer {token}",
                                                        "Content-Type": "application/json"})
        shape = dict(workers=args.workers, threads=args.threads)
        with gunicorn(env, **shape) as base, gunicorn(env, **shape, app=HELLO_WORLD_APP, ready_path="/") as bare:
            warm_up(bare + "/", connections=args.connections, threads=args.wrk_threads)
            warm_up(base + "/api/ping", connections=args.connections, threads=args.wrk_threads)
            warm_up(base + "/api/pass", connections=args.connections, threads=args.wrk_threads, **post)
            for _ in range(args.rounds):
                hello.append(wrk(bare + "/", **load))
                ping.append(wrk(base + "/api/ping", **load))
                issue.append(wrk(base + "/api/pass", **load, **post))
    renders = render_times(args.renders)

    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, database {args.db}, gunicorn "
          f"{server_shape(env, workers=args.workers, threads=args.threads)}, wrk {args.wrk_threads} threads x "
          f"{args.connections} connections, {args.seconds} s per run")
    for n, (h, p, i) in enumerate(zip(hello, ping, issue), 1):
        print(f"round {n}: bare hello world {h.rate:8.1f} req/s p99 {h.p99_ms:6.2f} ms | GET /api/ping {p.rate:8.1f} req/s | "
              f"POST /api/pass {i.rate:8.1f} req/s p99 {i.p99_ms:6.2f} ms | ratio {i.rate / h.rate:6.1%}")
    hello_rate, issue_rate = statistics.median(h.rate for h in hello), statistics.median(i.rate for i in issue)
    ping_rate = statistics.median(p.rate for p in ping)
    ratio = issue_rate / hello_rate
    print(f"hello world  bare Flask app  {hello_rate:8.1f} req/s   p99 {statistics.median(h.p99_ms for h in hello):6.2f} ms")
    print(f"app's ping   GET /api/ping   {ping_rate:8.1f} req/s   ({ping_rate / hello_rate:.1%} of hello world)")
    print(f"issuing      POST /api/pass  {issue_rate:8.1f} req/s   p99 {statistics.median(i.p99_ms for i in issue):6.2f} ms")
    print(f"ratio        {ratio:.1%} of hello world (target >= 50%); {issue_rate / ping_rate:.1%} of the app's ping")
    print(f"PNG render   {renders['png']:.2f} ms median (target <= 3 ms); SVG {renders['svg']:.2f} ms; "
          f"qrcode's automatic mask search + PIL image {renders['qrcode_default_png']:.2f} ms")
    answers_ok = all(h.only(200) for h in hello + ping) and all(i.only(201) for i in issue)
    print("answers      " + ("every ping 200, every issue 201" if answers_ok else
                             f"UNEXPECTED: {[h.statuses for h in hello]} {[i.statuses for i in issue]}"))
    ok = answers_ok and ratio >= 0.5 and renders["png"] <= 3.0
    print("targets met" if ok else "TARGETS NOT MET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
