#!/usr/bin/env python3
"""bench/attack.py (`bench/run --attack`): the "under attack" figures of BENCHMARKS.md.

One PostgreSQL database of N orders (default 50k; `orders_bench_attack`, dropped afterwards),
the release binary, the harness's own functions (bench/harness.py) and wrk scripts. Two phases, each on a fresh `orders serve` with
the documented defaults except `server.rate_limit = 0`:

1. **unattacked**: POST /orders (bench/wrk/create.lua) at 8 and at 32 connections, then
   GET /orders/{id} (bench/wrk/get_by_id.lua) at 32 connections;
2. **under attack**: the same three runs while, all at once and for the whole phase,
   - `server.max_streams` streamed GET /orders whose clients read nothing (a 4 KiB receive
     buffer, nothing read after the status line), reopened whenever the server cuts one;
   - thousands of connections that each sent half a request header, reopened whenever the
     server closes one (after `server.header_timeout`);
   - a flood of POST /auth/refresh with random tokens and no credentials, paced to a fixed
     rate, every answer counted;
   then the stuck-lock timings: psql holds the store's write lock (pg_advisory_xact_lock);
   a write is refused (503) after `database.lock_timeout`, a write waiting at the release and
   one sent right after it succeed.

Figures: the write p99, get-by-id rate (and its ratio to the unattacked one), the server's
peak RSS (VmHWM) per phase, the flood's answers, the lock timings; checked against the
targets and written to target/bench/attack.json. Every load runs for a fixed time against
127.0.0.1 only; every attacking loop is bounded and stops with its phase.
"""

import argparse
import http.client
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing the harness
import harness as h  # noqa: E402

# A database of its own, so that a `bench/run` beside it (orders_bench) is not dropped under it.
h.PG_DB = "orders_bench_attack"
h.PG_URL = f"postgres://{h.PG_USER}@{h.PG_HOST}:5432/{h.PG_DB}"

WRITE_LOCK = 0x6F72_6465_7273  # src/store: the advisory lock every write takes
LOCK_TIMEOUT_S = 5.0  # database.lock_timeout, the documented default
TARGETS = {"write_p99_ms": 50.0, "get_ratio": 0.8, "rss_mib": 128.0}


def log(message):
    h.log(f"attack: {message}")


# ---------------------------------------------------------------------------------------------
# The attackers


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def client_state(sock):
    """The TCP state of our end (/proc/net/tcp): '08' (CLOSE_WAIT) once the server closed it."""
    try:
        port = f":{sock.getsockname()[1]:04X}"
    except OSError:
        return None
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[1].endswith(port):
                return parts[3]
    return None


class SlowStreams(threading.Thread):
    """Holds every stream slot with streamed GET /orders that read nothing after the status
    line. A cut stream frees its slot but may keep its TCP connection (the server cannot reach
    a socket it is blocked writing to), so the attacker cannot see a cut: like a real one, it
    asks for one more stream every second, keeps it when it is served (200) and drops it when
    refused (503). It holds at most 4 × `count` connections (the oldest are let go)."""

    def __init__(self, port, token, count, stop):
        super().__init__(daemon=True)
        self.port, self.token, self.count, self.stop = port, token, count, stop
        self.socks, self.opened, self.statuses = [], 0, {}

    def open_one(self):
        s = connect(self.port, rcvbuf=4096)
        s.sendall(f"GET /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n\r\n".encode())
        status = s.recv(512)[9:12].decode(errors="replace")
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.opened += 1
        if status == "200":
            self.socks.append(s)
        else:
            s.close()

    def run(self):
        if not self.count:
            return
        try:
            for _ in range(self.count):
                self.open_one()
            for _ in range(100_000):
                if self.stop.wait(1.0):
                    break
                closed = [s for s in self.socks if client_state(s) == "08"]
                for s in closed:
                    self.socks.remove(s)
                    s.close()
                try:
                    self.open_one()
                except OSError:
                    pass
                while len(self.socks) > 4 * self.count:
                    self.socks.pop(0).close()
        finally:
            for s in self.socks:
                s.close()


class HalfOpen(threading.Thread):
    """Keeps `count` connections open that each sent half a request header."""

    PAYLOAD = b"GET /orders/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: "

    def __init__(self, port, count, stop):
        super().__init__(daemon=True)
        self.port, self.count, self.stop = port, count, stop
        self.opened, self.closed_by_server, self.failed = 0, 0, 0
        self.sel = selectors.DefaultSelector()

    def open_some(self, n):
        for i in range(n):
            if self.stop.is_set():
                return
            if i and i % 64 == 0:
                time.sleep(0.01)  # in bursts below the listen backlog
            try:
                s = connect(self.port)
                s.sendall(self.PAYLOAD)
            except OSError:
                self.failed += 1
                continue
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.opened += 1

    def run(self):
        try:
            self.open_some(self.count)
            for _ in range(1_000_000):
                if self.stop.is_set():
                    break
                gone = 0
                for key, _ in self.sel.select(timeout=0.2):
                    try:
                        data = key.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self.sel.unregister(key.fileobj)
                        key.fileobj.close()
                        gone += 1
                self.closed_by_server += gone
                if gone:
                    self.open_some(gone)
        finally:
            for key in list(self.sel.get_map().values()):
                key.fileobj.close()
            self.sel.close()

    @property
    def open_now(self):
        return len(self.sel.get_map()) if not self.stop.is_set() else 0


class RefreshFlood:
    """POST /auth/refresh with random tokens and no credentials at `rate` per second: wrk with
    bench/wrk/refresh_flood.lua (4 keep-alive connections, one paced schedule), run for the
    whole phase and stopped with SIGINT, on which wrk prints its counts. A Python client paced
    alike burned ~1.5 CPU-s per 10 s of the 2 cores the measured load runs on; wrk a fraction
    of that (its CPU is read from /proc and reported with the attackers')."""

    def __init__(self, port, rate):
        self.port, self.rate, self.proc = port, rate, None
        self.result = {"requests": 0, "statuses": {}, "latency_us": {"p99": 0}, "duration_us": 1}

    def start(self):
        if not self.rate:
            return
        env = dict(os.environ, BENCH_RATE=str(self.rate), BENCH_FLOOD_THREADS="1")
        self.proc = subprocess.Popen(["wrk", "-t", "1", "-c", "4", "-d", "3600s", "--timeout", "10s", "-s",
                                      str(h.BENCH / "wrk" / "refresh_flood.lua"), f"http://127.0.0.1:{self.port}"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def cpu(self):
        return h.proc_cpu(self.proc.pid) if self.proc and self.proc.poll() is None else 0.0

    def finish(self):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        line = next((l for l in out.splitlines() if l.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"the refresh flood's wrk printed no figures: {out[-500:]}")
        self.result = json.loads(line[len("BENCH_JSON "):])


class Attack:
    def __init__(self, port, token, streams, half_open, flood_rate):
        self.stop = threading.Event()
        self.streams = SlowStreams(port, token, streams, self.stop)
        self.half = HalfOpen(port, half_open, self.stop)
        self.flood = RefreshFlood(port, flood_rate)
        self.started = None

    def start(self):
        self.started = time.monotonic()
        for t in (self.streams, self.half):
            t.start()
        self.flood.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.streams.opened >= self.streams.count and self.half.opened >= self.half.count:
                break
            time.sleep(0.1)
        log(f"established in {time.monotonic() - self.started:.1f} s: {len(self.streams.socks)} stalled streams, "
            f"{self.half.opened} half-open connections, refresh flood at {self.flood.rate}/s")

    def snapshot(self):
        return {"stream_connections_held": len(self.streams.socks), "half_open_open": self.half.open_now}

    def finish(self):
        self.stop.set()
        self.flood.finish()
        for t in (self.streams, self.half):
            t.join(timeout=60)
        secs = time.monotonic() - self.started
        flood = self.flood.result
        statuses = flood["statuses"]
        total = flood["requests"]
        return {
            "seconds": round(secs, 1),
            "streams": {"held": self.streams.count, "opened": self.streams.opened, "statuses": self.streams.statuses},
            "half_open": {"held": self.half.count, "opened": self.half.opened,
                          "closed_by_server": self.half.closed_by_server, "connect_failures": self.half.failed},
            "refresh_flood": {"requests": total, "per_s": round(total / (flood["duration_us"] / 1e6), 1),
                          "statuses": statuses,
                              "all_401": statuses.get("401", 0) == total and (total > 0 or not self.flood.rate),
                              "p99_ms": round(flood["latency_us"]["p99"] / 1000, 1)},
        }


# ---------------------------------------------------------------------------------------------
# Measurements


def create(server, token, seconds, connections, state):
    env = {"BENCH_BASE": str(state["create_base_s"]), "BENCH_THREADS": str(h.THREADS)}
    out = h.wrk(server, "create.lua", seconds, token, connections=connections, extra_env=env)
    state["create_base_s"] += (out["requests"] * 2 + 1000) * 4 * 3600
    return out


def loads(server, token, args, state, label, attack=None):
    res = {}
    log(f"{label}: warm-up")
    create(server, token, 1, 8, state)
    h.get_by_id(server, 1, token, args.n)
    for conns in (8, 32):
        log(f"{label}: POST /orders at {conns} connections, {args.duration} s")
        res[f"create_{conns}"] = create(server, token, args.duration, conns, state)
    log(f"{label}: GET /orders/{{id}} at 32 connections, {args.duration} s")
    before = cpu_now(server, attack)
    res["get_by_id"] = h.get_by_id(server, args.duration, token, args.n)
    after = cpu_now(server, attack)
    res["get_by_id"]["cpu_s"] = {k: round(after[k] - before[k], 2) for k in before}
    return res


def cpu_now(server, attack=None):
    """CPU seconds so far of the server, PostgreSQL, the load's wrk (the harness's ended
    children) and the attackers (this process's threads and the flood's wrk): on 2 shared
    cores, what the attack itself burns is taken from the load it is measured against."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    flood = attack.flood.cpu() if attack else 0.0
    return {"server": h.proc_cpu(server.proc.pid), "postgres": h.postgres_cpu(), "wrk": h.children_cpu(),
            "attackers": me.ru_utime + me.ru_stime + flood}


def post_order(port, token, at_s):
    body = json.dumps({"datetime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_s)), "totalfee": 10,
                       "services": [123]})
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/orders", body=body,
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        r.read()
        return r.status, started, time.monotonic(), r.getheader("Retry-After")
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__, started, time.monotonic(), None
    finally:
        conn.close()


def stuck_lock(server, token, state):
    """psql holds the write lock: one write refused after lock_timeout; one waiting at the
    release and one sent right after it, timed from the release."""
    holder = subprocess.Popen(["psql", "-X", "-At", "-h", h.PG_HOST, "-U", h.PG_USER, "-d", h.PG_DB],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              bufsize=1)

    def slot():
        state["create_base_s"] += 8 * 3600
        return state["create_base_s"]
    try:
        holder.stdin.write(f"BEGIN;\nSELECT 1 FROM pg_advisory_xact_lock({WRITE_LOCK});\n\\echo locked\n")
        holder.stdin.flush()
        for _ in range(10):
            if holder.stdout.readline().strip() == "locked":
                break
        else:
            raise RuntimeError("psql did not take the write lock")
        status, started, ended, retry_after = post_order(server.port, token, slot())
        refused = {"status": status, "seconds": round(ended - started, 3), "retry_after": retry_after}
        waiting = {}
        waiter = threading.Thread(target=lambda: waiting.update(zip(("status", "started", "ended", "ra"),
                                                                     post_order(server.port, token, slot()))))
        waiter.start()
        time.sleep(1.0)
        holder.stdin.write("COMMIT;\n\\echo released\n")
        holder.stdin.flush()
        for _ in range(10):
            if holder.stdout.readline().strip() == "released":
                break
        released = time.monotonic()
        status_after, _, ended_after, _ = post_order(server.port, token, slot())
        waiter.join(timeout=60)
        return {
            "lock_timeout_s": LOCK_TIMEOUT_S,
            "refused": refused,
            "waiting_at_release": {"status": waiting.get("status"),
                                   "after_release_s": round(waiting.get("ended", 0) - released, 3)},
            "sent_after_release": {"status": status_after, "after_release_s": round(ended_after - released, 3)},
        }
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def phase(product, token, args, state, attacked):
    label = "under attack" if attacked else "unattacked"
    server = h.Server(product, "attack" if attacked else "unattacked")
    attack = None
    try:
        if attacked:
            attack = Attack(server.port, token, args.streams if "streams" in args.attackers else 0,
                            args.half_open if "half-open" in args.attackers else 0,
                            args.flood_rate if "flood" in args.attackers else 0)
            attack.start()
        res = loads(server, token, args, state, label, attack)
        if attacked:
            res["attack_held_at_end"] = attack.snapshot()
            log(f"{label}: stuck lock holder")
            res["stuck_lock"] = stuck_lock(server, token, state)
            res["attack"] = attack.finish()
    finally:
        if attack and not attack.stop.is_set():
            attack.finish()
        hwm = server.stop()
    res["peak_rss_mib"] = round(hwm / 1024, 1)
    return res


def combine(runs):
    """R rounds of one phase: per load the run with the median rate (its latencies travel with
    it, every round's rate beside it), the highest peak RSS, and every round's attack and lock
    figures."""
    out = {key: h.median_run([r[key] for r in runs]) for key in ("create_8", "create_32", "get_by_id")}
    if "pgbench_create_32" in runs[0]:
        out["pgbench_create_32"] = h.median_run([r["pgbench_create_32"] for r in runs])
    out["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    out["rounds_peak_rss_mib"] = [r["peak_rss_mib"] for r in runs]
    for key in ("stuck_lock", "attack", "attack_held_at_end"):
        if key in runs[0]:
            out[key] = [r[key] for r in runs]
    return out


def targets(unattacked, attacked, rounds):
    rows = []

    def add(name, value, goal, met):
        rows.append({"target": name, "value": value, "goal": goal, "met": met})

    p99 = attacked["create_8"]["p99_ms"]
    add("write p99 under attack, 8 conns (ms)", p99, f"< {TARGETS['write_p99_ms']:g}", p99 < TARGETS["write_p99_ms"])
    # Paired per round (each attacked phase right after its unattacked one), then the median.
    ratios = sorted(round(a["get_by_id"]["rps"] / u["get_by_id"]["rps"], 2) for u, a in zip(*rounds))
    ratio = ratios[len(ratios) // 2]
    add("get-by-id under attack / unattacked (median of rounds)", ratio, f">= {TARGETS['get_ratio']}",
        ratio >= TARGETS["get_ratio"])
    rss = attacked["peak_rss_mib"]
    add("peak RSS under attack (MiB)", rss, f"< {TARGETS['rss_mib']:g}", rss < TARGETS["rss_mib"])
    locks = attacked["stuck_lock"]  # every round's; the worst is reported
    worst = max(locks, key=lambda lock: lock["refused"]["seconds"])["refused"]
    add("write under a stuck lock holder: 503 after (s)", worst["seconds"], f"503 <= {LOCK_TIMEOUT_S + 1:g}",
        all(lock["refused"]["status"] == 503 and lock["refused"]["seconds"] <= LOCK_TIMEOUT_S + 1 for lock in locks))
    for key, name in (("waiting_at_release", "write waiting at the release"),
                      ("sent_after_release", "write sent after the release")):
        seconds = max(lock[key]["after_release_s"] for lock in locks)
        add(f"{name}: 201 after the release (s)", seconds, "201 <= 1",
            all(lock[key]["status"] == 201 and lock[key]["after_release_s"] <= 1 for lock in locks))
    statuses = {}
    for attack in attacked["attack"]:
        for k, v in attack["refresh_flood"]["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    add("refresh flood answered 401", statuses, "all 401", all(a["refresh_flood"]["all_401"] for a in attacked["attack"]))
    return rows


def table(unattacked, attacked):
    lines = [f"{'phase':13} {'load':28} {'figure':>10} {'unit':6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"]
    for name, res in (("unattacked", unattacked), ("under attack", attacked)):
        for key, what in (("create_8", "POST /orders, 8 conns"), ("create_32", "POST /orders, 32 conns"),
                          ("get_by_id", "GET /orders/{id}, 32 conns")):
            r = res[key]
            lines.append(f"{name:13} {what:28} {r['rps']:>10} {'req/s':6} {h.fmt(r['p50_ms']):>8} "
                         f"{h.fmt(r['p99_ms']):>8} {r['errors']:>6}" +
                         (f"  CPU s: {r['cpu_s']}" if "cpu_s" in r else ""))
        if "pgbench_create_32" in res:
            r = res["pgbench_create_32"]
            lines.append(f"{name:13} {'  pgbench create, 32 clients':28} {r['rps']:>10} {'tps':6} {h.fmt(r['p50_ms']):>8} "
                         f"{h.fmt(r['p99_ms']):>8} {r['errors']:>6}")
        lines.append(f"{name:13} {'serve peak RSS (VmHWM)':28} {res['peak_rss_mib']:>10} {'MiB':6}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="orders serve's figures unattacked and under attack (PostgreSQL).")
    parser.add_argument("--quick", action="store_true", help="N = 10k, 5 s per load run")
    parser.add_argument("--n", type=int, help="orders to import (default 50000)")
    parser.add_argument("--duration", type=int, help="seconds per load run (default 15)")
    parser.add_argument("--rounds", type=int, help="alternating unattacked/attacked rounds (default 3; --quick 1)")
    parser.add_argument("--half-open", type=int, default=3000, help="half-open connections held (default 3000)")
    parser.add_argument("--flood-rate", type=int, default=500, help="garbage refreshes per second (default 500)")
    parser.add_argument("--streams", type=int, default=8, help="stalled streams held (default 8, server.max_streams)")
    parser.add_argument("--bin", type=Path, help=f"the orders binary (default {h.BIN})")
    parser.add_argument("--attackers", default="streams,half-open,flood",
                        help="which attackers run (default: streams,half-open,flood), to see what each costs")
    args = parser.parse_args()
    args.n = args.n or (10_000 if args.quick else 50_000)
    args.duration = args.duration or (5 if args.quick else 15)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.bin:
        h.BIN = args.bin.resolve()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 20_000):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20_000), hard))
    h.OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    meta = {
        "mode": "quick" if args.quick else "full",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "commit": subprocess.run(["git", "-C", str(h.ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
        "n": args.n, "duration_s": args.duration, "rounds": args.rounds, "loadavg_at_start": os.getloadavg(),
        "attack": {"attackers": args.attackers, "stalled_streams": args.streams, "half_open": args.half_open,
                   "flood_per_s": args.flood_rate},
        "server": "documented defaults (orders.toml) except server.rate_limit = 0",
        "postgres_url": h.PG_URL + " (sslmode=prefer: TLS)",
    }
    workdir = Path(tempfile.mkdtemp(prefix="orders-attack-"))
    try:
        data = h.OUT / f"orders-{args.n}.ndjson"
        log(f"generating and importing {args.n} orders")
        h.generate(args.n, data)
        product, _ = h.prepare("postgres", args.n, data, workdir)
        h.psql(h.PG_DB, "VACUUM (ANALYZE)")
        h.psql(h.PG_DB, "CHECKPOINT")
        product.env["ORDERS__SERVER__RATE_LIMIT"] = "0"
        token = product.token()
        state = {"create_base_s": h.API_CREATE_BASE_S}
        rounds = ([], [])
        for rnd in range(args.rounds):
            log(f"round {rnd + 1}/{args.rounds}")
            unattacked = phase(product, token, args, state, attacked=False)
            # The machine's own pace for the same write at that moment: pgbench running the
            # store's create transaction (bench/pgbench/create.sql) at 32 clients, as in the main table.
            log(f"pgbench create at {h.CONNECTIONS} clients, {args.duration} s (reference)")
            unattacked["pgbench_create_32"] = h.pgbench("create.sql", args.duration,
                                                        {"base": h.PGBENCH_CREATE_BASE_MS})
            rounds[0].append(unattacked)
            rounds[1].append(phase(product, token, args, state, attacked=True))
        unattacked, attacked = combine(rounds[0]), combine(rounds[1])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        h.psql("postgres", f"DROP DATABASE IF EXISTS {h.PG_DB} WITH (FORCE)")
    meta["wall_seconds"] = round(time.time() - started, 1)
    meta["loadavg_at_end"] = os.getloadavg()
    checked = targets(unattacked, attacked, rounds)
    report = {"meta": meta, "unattacked": unattacked, "under_attack": attacked, "targets": checked,
              "rounds": {"unattacked": rounds[0], "under_attack": rounds[1]}}
    (h.OUT / "attack.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(unattacked, attacked))
    a = attacked["attack"][-1]
    print(f"\nattack (last round): {a['streams']['held']} stalled streams ({a['streams']['opened']} opened, answers "
          f"{a['streams']['statuses']}), {a['half_open']['held']} half-open connections ({a['half_open']['opened']} "
          f"opened, {a['half_open']['closed_by_server']} closed by the server), refresh flood "
          f"{a['refresh_flood']['per_s']}/s answered {a['refresh_flood']['statuses']} (p99 {a['refresh_flood']['p99_ms']} ms)")
    for lock in attacked["stuck_lock"]:
        print(f"stuck lock: {json.dumps(lock)}")
    print()
    for t in checked:
        mark = {True: "met", False: "MISSED"}[t["met"]]
        print(f"{t['target']:48} {h.fmt(t['value']) if not isinstance(t['value'], dict) else t['value']!s:>12} "
              f"(goal {t['goal']}): {mark}")
    print(f"\n{meta['mode']} run, {meta['wall_seconds']} s; written to {h.OUT / 'attack.json'}")


if __name__ == "__main__":
    main()
