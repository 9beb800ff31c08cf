#!/usr/bin/env python3
"""bench/compare.py: GET /orders/{id} on PostgreSQL for several builds or settings of the
server, in alternating rounds beside pgbench: the before/after pairs of BENCHMARKS.md.

    bench/compare.py [--n N] [--rounds R] [--duration S] [--prepare] VARIANT...

A VARIANT is NAME or NAME:KEY=VALUE,KEY=VALUE... where BIN=path picks the binary (default:
target/release/orders) and any other KEY is an environment variable of the server (say
TOKIO_WORKER_THREADS=1, RUST_LOG=warn or ORDERS__DATABASE__URL=...). The name `pgbench`
runs the reference instead. Each round runs every variant once, in the order given, through
the harness's own functions (fresh server, 1 s warm-up, wrk at 32 connections), and prints
its rate, p99, CPU time per request of each process and lookups per statement (from the
server's /metrics; "-" for pgbench and for builds without the counters). A variant with
ORDERS__DATABASE__URL=sqlite://FILE measures SQLite instead. `--prepare` imports N orders into
a fresh `orders_bench` first (bench/run leaves one behind); a machine this noisy needs
several rounds, and instruction counts (callgrind) for anything under ~10 %.
"""

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import harness as h


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", metavar="VARIANT")
    parser.add_argument("--n", type=int, default=1_000_000, help="orders in orders_bench (default 1M)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=8, help="seconds per load run")
    parser.add_argument("--prepare", action="store_true", help="import N orders into a fresh orders_bench first")
    args = parser.parse_args()
    variants = [parse_variant(text) for text in args.variants]

    h.OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="orders-compare-") as tmp:
        work = Path(tmp)
        if args.prepare:
            data = h.OUT / f"orders-{args.n}.ndjson"
            h.generate(args.n, data)
            product, imported = h.prepare("postgres", args.n, data, work)
            h.psql(h.PG_DB, "VACUUM (ANALYZE)")
            h.psql(h.PG_DB, "CHECKPOINT")
            print(f"prepared: {imported}", flush=True)
        else:
            product = h.Product(h.PG_URL, work)
        stored = next(int(word) for word in h.psql(h.PG_DB, "SELECT count(*) FROM orders").stdout.split()
                      if word.isdigit())
        if stored < args.n:
            sys.exit(f"orders_bench holds {stored} orders, fewer than --n {args.n}: use --prepare")
        token = product.token()
        default_bin = h.BIN
        for rnd in range(args.rounds):
            for name, binary, env in variants:
                if name == "pgbench":
                    result = h.pgbench("get_by_id.sql", args.duration, {"n": args.n})
                else:
                    h.BIN = binary or default_bin
                    variant = copy.copy(product)
                    variant.env = dict(product.env, **env)
                    result = h.with_server(variant, f"compare-{name}",
                                           lambda s: h.get_by_id(s, args.duration, token, args.n),
                                           lambda s: h.get_by_id(s, 1, token, args.n))
                # Ids past the stored orders answer 404 (and pgbench finds no row): say so, as
                # such a run measures something else.
                print(f"round {rnd + 1} {name:12s} {result['rps']:9.0f}/s  p99 {result['p99_ms']:6.2f} ms  "
                      f"errors {result['errors']}  cpu us/request {result.get('cpu_us_per_request')}  "
                      f"lookups/statement {result.get('lookups_per_statement', '-')}", flush=True)


def parse_variant(text):
    name, _, settings = text.partition(":")
    env = dict(setting.split("=", 1) for setting in settings.split(",") if setting)
    binary = env.pop("BIN", None)
    return name, Path(binary).resolve() if binary else None, env


if __name__ == "__main__":
    sys.exit(main())
