#!/usr/bin/env python3
"""What the scheduling rule in the schema and SQLite's durability cost, measured with
bench/harness.py's own pieces (its release binary, data, prepare(), Server, wrk), alternating
the variants so that a shared machine's drift falls on both. BENCHMARKS.md, "The rule in the
schema and SQLite's durability", reports its figures. Needs `cargo build --release` first.

  bench/rule_costs.py import N BACKEND ROUNDS [VARIANTS]  # `orders import` of N orders, rule on/off
  bench/rule_costs.py create ROUNDS SECONDS               # POST /orders on PostgreSQL, 3h vs 0s
  bench/rule_costs.py sync ROUNDS SECONDS CONNECTIONS     # POST /orders on SQLite, full vs normal

import VARIANTS (comma-separated, default on,off): `on` initializes the database with 3h (on
PostgreSQL: the exclusion constraint on int8range), `off` with 0s (no constraint; SQLite's
triggers stay but search an empty window); for comparison, not what the product ships: `box`
(PostgreSQL) swaps in the same rule as `EXCLUDE USING gist (box(point(datetime, 0),
point(datetime + gap - 1, 0)) WITH &&)` before the import, `notriggers` (SQLite) drops the rule's
triggers on orders (3h, checked by the import alone). Each prints one JSON line per run."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

BOX = ("ALTER TABLE orders DROP CONSTRAINT orders_min_gap; ALTER TABLE orders ADD CONSTRAINT orders_min_gap_box "
       "EXCLUDE USING gist (box(point(datetime, 0), point(datetime + 10799999, 0)) WITH &&)")


def emit(**row):
    print(json.dumps({**row, "loadavg": round(os.getloadavg()[0], 2)}), flush=True)


def imports(n, backend, rounds, variants):
    data = harness.OUT / f"orders-{n}.ndjson"
    harness.generate(n, data)
    for rnd in range(rounds):
        for variant in variants:
            os.environ["ORDERS__RULES__MIN_GAP"] = "0s" if variant == "off" else "3h"
            workdir = Path(tempfile.mkdtemp(prefix="orders-rule-costs-"))
            if variant == "notriggers":
                workdir.joinpath("orders.db").unlink(missing_ok=True)
                product = harness.Product(f"sqlite://{workdir / 'orders.db'}", workdir)
                product.run("migrate")
                subprocess.run(["sqlite3", str(workdir / "orders.db"), "DROP TRIGGER orders_min_gap_insert; "
                                "DROP TRIGGER orders_min_gap_update;"], check=True)
                secs, _ = harness.timed([str(harness.BIN), "import", str(data)], env=product.env, cwd=workdir,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                imported = {"seconds": round(secs, 2), "orders_per_s": round(n / secs)}
            elif variant == "box":
                harness.psql("postgres", f"DROP DATABASE IF EXISTS {harness.PG_DB} WITH (FORCE)")
                harness.psql("postgres", f"CREATE DATABASE {harness.PG_DB}")
                product = harness.Product(harness.PG_URL, workdir)
                product.run("migrate")
                harness.psql(harness.PG_DB, BOX)
                secs, _ = harness.timed([str(harness.BIN), "import", str(data)], env=product.env, cwd=workdir,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                imported = {"seconds": round(secs, 2), "orders_per_s": round(n / secs)}
            else:
                _, imported = harness.prepare(backend, n, data, workdir)
            emit(scenario="import", round=rnd + 1, variant=variant, backend=backend, n=n, **imported)


def create_load(token, base, seconds, connections):
    threads = min(harness.THREADS, connections)

    def run(server):
        env = {"BENCH_BASE": str(base[0]), "BENCH_THREADS": str(threads)}
        out = harness.wrk(server, "create.lua", seconds, token, connections=connections, threads=threads,
                          extra_env=env)
        base[0] += (out["requests"] * 2 + 1000) * 4 * 3600  # past every slot this run could take
        return out
    return run


def creates(product, rounds, seconds, connections, variants, switch):
    token, base = product.token(), [harness.API_CREATE_BASE_S]
    for rnd in range(rounds):
        for variant in variants:
            switch(variant)
            out = harness.with_server(product, f"rule-costs-{variant}", create_load(token, base, seconds, connections),
                                      create_load(token, base, 1, connections))
            keep = ("rps", "requests", "errors", "p50_ms", "p99_ms", "cpu_us_per_request")
            emit(scenario="create", round=rnd + 1, variant=variant, connections=connections,
                 **{k: out[k] for k in keep})


def main():
    harness.OUT.mkdir(parents=True, exist_ok=True)
    what, args = sys.argv[1], sys.argv[2:]
    if what == "import":
        variants = args[3].split(",") if len(args) > 3 else ["on", "off"]
        imports(int(args[0]), args[1], int(args[2]), variants)
    elif what == "create":
        harness.psql("postgres", f"DROP DATABASE IF EXISTS {harness.PG_DB} WITH (FORCE)")
        harness.psql("postgres", f"CREATE DATABASE {harness.PG_DB}")
        product = harness.Product(harness.PG_URL, Path(tempfile.mkdtemp(prefix="orders-rule-costs-")))
        product.run("seed")

        def switch(gap):
            product.run("rules", "set-gap", gap)
            product.env["ORDERS__RULES__MIN_GAP"] = gap  # no notice on every run
        creates(product, int(args[0]), int(args[1]), harness.CONNECTIONS, ["3h", "0s"], switch)
    elif what == "sync":
        workdir = Path(tempfile.mkdtemp(prefix="orders-rule-costs-"))
        product = harness.Product(f"sqlite://{workdir / 'orders.db'}", workdir)
        product.run("seed")

        def switch(mode):
            product.env["ORDERS__DATABASE__SQLITE_SYNCHRONOUS"] = mode
        creates(product, int(args[0]), int(args[1]), int(args[2]), ["full", "normal"], switch)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
