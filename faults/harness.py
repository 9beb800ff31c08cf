#!/usr/bin/env python3
"""The fault harness behind `faults/run` (docs/limits.md: limits and failure behaviour).

It runs the real `orders` binary (`serve`, `import`, `token`) on real PostgreSQL and SQLite
and attacks it, one scenario per attack. Each scenario states its invariant (its docstring,
printed with its result), checks it and records every violation; the run exits non-zero on
any violation and ends with the line `N passed, N failed` (one test per scenario and backend).

Every load and attack targets 127.0.0.1 only, every loop is bounded in count and time, and
every process started here is ended here (by its own pid). The limits are made small through
ORDERS__* variables so that a whole run is short: see BASE_LIMITS.

Python 3.11 standard library only; needs `psql` for PostgreSQL, and (for the PostgreSQL
restart scenario) the server's own `initdb` and `pg_ctl`, which run a throwaway cluster on a
free port so that the shared server at 127.0.0.1:5432 is never restarted.
"""

import argparse
import calendar
import glob
import http.client
import itertools
import json
import os
import queue
import random
import re
import resource
import secrets
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIN = ROOT / "target" / "debug" / "orders"

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# src/store/mod.rs POSTGRES_WRITE_LOCK: the advisory lock every write takes.
POSTGRES_WRITE_LOCK = 0x6F72_6465_7273
SECRET = "faults-secret-faults-secret-faults-secret-0123"

HOUR_MS = 3_600_000
MIN_GAP_MS = 3 * HOUR_MS
DATA_START_MS = 946_684_800_000  # 2000-01-01: imported orders, 3 h to 3 h 30 m apart
SLOT_BASE_MS = 19_880_006_400_000  # 2600-01-01: the harness's writes, one slot every 4 h
SLOT_MS = 4 * HOUR_MS
SERVICES = [(123, "Inspection"), (456, "Analysis"), (789, "Testing")]
# Services with 100-character names, four on every imported order: a streamed listing of 12k
# orders is then ~8 MB, several times what the kernel buffers on a stalled loopback connection
# (2.8 MB seen), so a client that reads nothing really stalls the server.
LONG_SERVICES = [(1000 + i, f"Long service {i:02d} " + "x" * 84) for i in range(8)]

# Small limits so a run is short; a scenario overrides what it needs.
LOCK_TIMEOUT = 1
HEADER_TIMEOUT = 1
STREAM_STALL = 2
SHUTDOWN_GRACE = 2
MAX_STREAMS = 2
BASE_LIMITS = {
    "ORDERS__DATABASE__LOCK_TIMEOUT": f"{LOCK_TIMEOUT}s",
    "ORDERS__DATABASE__STATEMENT_TIMEOUT": "10s",
    "ORDERS__SERVER__HEADER_TIMEOUT": f"{HEADER_TIMEOUT}s",
    "ORDERS__SERVER__STREAM_STALL": f"{STREAM_STALL}s",
    "ORDERS__SERVER__MAX_STREAMS": str(MAX_STREAMS),
    "ORDERS__SERVER__SHUTDOWN_GRACE": f"{SHUTDOWN_GRACE}s",
    "ORDERS__SERVER__RATE_LIMIT": "0",
    "ORDERS__RULES__MIN_GAP": f"{MIN_GAP_MS // HOUR_MS}h",
}
# A write is answered (201, 409, or refused 503) within this, whatever else goes on.
WRITE_BOUND = LOCK_TIMEOUT + 1.0

STARTED = time.monotonic()


def log(message):
    print(f"[faults {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_iso_ms(text):
    """`YYYY-MM-DDTHH:MM:SS.sssZ` (the API's output) to epoch milliseconds."""
    whole, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac[:3].ljust(3, "0"))


def iso(ms):
    secs, rest = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rest:03d}Z"


# ---------------------------------------------------------------------------------------------
# Violations


class Violation(Exception):
    """A check that cannot go on (the rest of the scenario would only repeat it)."""


@dataclass
class Outcome:
    violations: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def check(self, ok, message):
        if not ok:
            self.violations.append(message)
        return ok

    def require(self, ok, message):
        if not ok:
            raise Violation(message)

    def note(self, message):
        self.notes.append(message)


# ---------------------------------------------------------------------------------------------
# HTTP: one connection per request (header_timeout also closes idle keep-alive connections)


@dataclass
class Resp:
    status: int | None
    headers: dict
    body: bytes
    latency: float
    started: float
    error: str | None = None

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())


def request(port, method, path, body=None, token=None, headers=None, timeout=15.0):
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        payload = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, payload, time.monotonic() - started, started)
    except (OSError, http.client.HTTPException) as e:
        return Resp(None, {}, b"", time.monotonic() - started, started, f"{type(e).__name__}: {e}")
    finally:
        conn.close()


def raw_connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def open_stalled_stream(port, token):
    """GET /orders (streamed) on a raw socket with a tiny receive buffer; reads the first bytes
    only (the status line), then nothing. Returns (socket, status, first bytes)."""
    s = raw_connect(port, rcvbuf=4096)
    s.sendall(f"GET /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    head = b""
    deadline = time.monotonic() + 10
    while b"\r\n" not in head and time.monotonic() < deadline:
        chunk = s.recv(512)
        if not chunk:
            break
        head += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return s, int(m.group(1)) if m else None, head


def send_queue(server_port, client_port):
    """Bytes the server has written to this client's connection that the client has not taken
    (tx_queue of the server's end in /proc/net/tcp); None when there is no such connection."""
    local, remote = f":{server_port:04X}", f":{client_port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[1].endswith(local) and parts[2].endswith(remote):
                return int(parts[4].split(":")[0], 16)
    return None


class StallWatch:
    """Watches, from the moment the streams open, the server's send queue to each stalled
    client (sampled every 50 ms): the kernel takes megabytes before a writer blocks, so the
    server can only notice a client that reads nothing once those are full. `stalled()` gives
    the instant each queue last changed, once none has changed for `settle` s."""

    def __init__(self, server_port, socks):
        self.port, self.socks = server_port, socks
        self.last = [None] * len(socks)
        self.changed = [time.monotonic()] * len(socks)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        deadline = time.monotonic() + 120
        while not self.done.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            for i, s in enumerate(self.socks):
                q = send_queue(self.port, s.getsockname()[1])
                if q != self.last[i]:
                    self.last[i], self.changed[i] = q, now
            time.sleep(0.05)

    def stalled(self, settle=0.5, timeout=30.0):
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if all(time.monotonic() - c >= settle for c in self.changed):
                    return list(self.changed)
                time.sleep(0.05)
            raise Violation(f"the server kept writing to the stalled streams for {timeout:g} s (send queues {self.last})")
        finally:
            self.done.set()


def drain(sock, timeout):
    """Reads until EOF or reset, at most `timeout` s. ('eof'|'reset'|'timeout', bytes read,
    whether the chunked body was complete)."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + timeout
    total, tail = 0, b""
    how = "timeout"
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            how = "reset"
            break
        if not chunk:
            how = "eof"
            break
        total += len(chunk)
        tail = (tail + chunk)[-16:]
    return how, total, tail.endswith(b"0\r\n\r\n")


def open_half_open(port, count, payload=b"GET /orders/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: "):
    """`count` connections that each send `payload` (half a request header) and then nothing.
    Opened in bursts of 64 with a pause between: a burst beyond the server's listen backlog
    would only measure the client's SYN retransmissions (1 s each). (sockets, send instants)"""
    socks, sent = [], []
    for i in range(count):
        if i and i % 64 == 0:
            time.sleep(0.01)
        s = raw_connect(port)
        s.sendall(payload)
        socks.append(s)
        sent.append(time.monotonic())
    return socks, sent


def await_closed(socks, deadline):
    """Reads every socket (discarding what arrives) until each reaches EOF or reset, or the
    deadline passes: the instant each was closed, None for those still open."""
    closed = [None] * len(socks)
    with selectors.DefaultSelector() as sel:
        for i, s in enumerate(socks):
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
        remaining = len(socks)
        while remaining and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=min(0.1, max(0.0, deadline - time.monotonic()))):
                i = key.data
                try:
                    data = socks[i].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    closed[i] = time.monotonic()
                    sel.unregister(socks[i])
                    remaining -= 1
    return closed


def close_quietly(*socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Databases


class Database:
    """One scenario database: a fresh PostgreSQL database (dropped afterwards) or SQLite file."""

    def __init__(self, backend, workdir, pg_port=PG_PORT, psql_host=PG_HOST):
        self.backend = backend
        self.pg_port = pg_port
        self.psql_host = psql_host
        if backend == "postgres":
            self.name = f"orders_faults_{secrets.token_hex(4)}"
            self.admin_sql(f"CREATE DATABASE {self.name}")
            self.url = f"postgres://{PG_USER}@{PG_HOST}:{pg_port}/{self.name}?sslmode=disable"
        else:
            self.path = workdir / f"faults-{secrets.token_hex(4)}.db"
            self.url = f"sqlite://{self.path}"

    def psql_args(self, db):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.psql_host, "-p", str(self.pg_port),
                "-U", PG_USER, "-d", db]

    def admin_sql(self, sql):
        subprocess.run(self.psql_args("postgres") + ["-c", sql], check=True, capture_output=True, text=True,
                       timeout=60)

    def query(self, sql):
        """Rows as tuples of strings (PostgreSQL) or values (SQLite), read directly."""
        if self.backend == "postgres":
            out = subprocess.run(self.psql_args(self.name) + ["-At", "-F", "\t", "-c", sql], check=True,
                                 capture_output=True, text=True, timeout=60).stdout
            return [tuple(line.split("\t")) for line in out.splitlines() if line]
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def drop(self):
        if self.backend == "postgres":
            try:
                self.admin_sql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                log(f"could not drop {self.name}: {e}")
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free port, run as the postgres user, so that a
    scenario may crash and restart it without touching the shared server."""

    def __init__(self, workdir):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise Violation("no initdb under /usr/lib/postgresql/*/bin (the PostgreSQL server package)")
        self.bindir = Path(bins[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="orders-faults-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", PG_USER, "--no-sync", "-E", "UTF8")
        self.start()

    def run(self, tool, *args, timeout=120):
        return subprocess.run(self.as_postgres + [str(self.bindir / tool), *args], check=True,
                              capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def start(self):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=50"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode):
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self):
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The product


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Product:
    """The binary over one database, with the harness's limits and secret."""

    def __init__(self, binary, db, workdir):
        self.bin = str(binary)
        self.db = db
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERS")}
        self.env.update(BASE_LIMITS)
        self.env.update({
            "ORDERS__DATABASE__URL": db.url,
            "ORDERS__AUTH__JWT_SECRET": SECRET,
            "XDG_DATA_HOME": str(workdir / "xdg"),
            "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
        })
        self.tokens = {}

    def run(self, *args, input=None, timeout=120):
        return subprocess.run([self.bin, *args], env=self.env, cwd=self.workdir, input=input, capture_output=True,
                              text=True, timeout=timeout, check=True)

    def token(self, subject, role="writer"):
        key = (subject, role)
        if key not in self.tokens:
            self.tokens[key] = self.run("token", "issue", "--subject", subject, "--role", role, "--ttl", "2h").stdout.strip()
        return self.tokens[key]

    def serve(self, name, **limits):
        return Server(self, name, {f"ORDERS__{k.upper()}": str(v) for k, v in limits.items()})


class Server:
    """One `orders serve --addr 127.0.0.1:PORT` (PORT 0 unless given); its stderr to a log."""

    def __init__(self, product, name, env_extra, port=0):
        self.product, self.name, self.env_extra = product, name, env_extra
        self.log_path = product.workdir / f"serve-{name}-{secrets.token_hex(2)}.log"
        self.port = None
        self.proc = None
        self.start(port)

    def start(self, port=0):
        env = dict(self.product.env, **self.env_extra)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.product.bin, "serve", "--addr", f"127.0.0.1:{port}"], env=env,
                                     cwd=self.product.workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log_file)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.findall(rb"orders: listening on http://127\.0\.0\.1:(\d+)", self.log_path.read_bytes()[offset:])
            if found and self.proc.poll() is None:
                self.port = int(found[-1])
                return
            if self.proc.poll() is not None:
                raise Violation(f"orders serve exited {self.proc.returncode} at start: {self.log_tail()}")
            time.sleep(0.02)
        raise Violation("orders serve did not say it listens within 60 s")

    def log_tail(self, n=5):
        lines = self.log_path.read_bytes().decode(errors="replace").splitlines()
        return " | ".join(l for l in lines if not l.startswith("{"))[-600:] or " | ".join(lines[-n:])[-600:]

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log_file.close()

    def terminate(self, timeout=30):
        """SIGTERM; (seconds to exit, exit code) — (None, None) when it did not exit in time
        (it is then killed)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
            return time.monotonic() - started, code
        except subprocess.TimeoutExpired:
            self.ensure_stopped()
            return None, None

    def ensure_stopped(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        if self.log_file and not self.log_file.closed:
            self.log_file.close()

    def accepted_connections(self):
        """TCP connections to its port that the server process holds open (its fds matched
        against /proc/net/tcp)."""
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{self.proc.pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            return 0
        held = set()
        port_hex = f"{self.port:04X}"
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if local.endswith(":" + port_hex) and state != "0A" and inode in inodes:  # 0A: LISTEN
                    held.add(inode)
        # Distinct inodes: /proc/net/tcp is read while the table changes and can list one
        # socket twice (seen: 55 lines for 50 sockets).
        return len(held)


# ---------------------------------------------------------------------------------------------
# Writes and the invariants over what was written

_slots = itertools.count()
_slot_lock = threading.Lock()


def next_slot():
    with _slot_lock:
        return SLOT_BASE_MS + next(_slots) * SLOT_MS


@dataclass
class Write:
    datetime_ms: int
    status: int | None
    latency: float
    started: float
    order_id: int | None = None
    error: str | None = None
    retry_after: str | None = None
    colliding: bool = False
    body: bytes = b""


def post_order(port, token, datetime_ms, colliding=False, timeout=15.0):
    body = {"datetime": iso(datetime_ms), "totalfee": 10, "services": [123]}
    r = request(port, "POST", "/orders", body=body, token=token, timeout=timeout)
    order_id = None
    if r.status == 201:
        try:
            order_id = int(r.json()["id"])
        except (ValueError, KeyError, TypeError):
            pass
    return Write(datetime_ms, r.status, r.latency, r.started, order_id, r.error, r.header("retry-after"), colliding,
                 r.body[:300] if r.status != 201 else b"")


class WriteLoad:
    """Writer threads POSTing orders at distinct 4 h slots until stopped (bounded by `seconds`
    and `max_per_thread`). With `collide`, every 4th write asks for an instant 1 h after a
    slot another writer took, which the rule must refuse (409) whenever that slot was written.
    The port is read on every request, so a restarted server on another port is followed."""

    def __init__(self, port_of, tokens, seconds, collide=False, pause=0.0, max_per_thread=2000):
        self.port_of, self.tokens, self.seconds = port_of, tokens, seconds
        self.collide, self.pause, self.max_per_thread = collide, pause, max_per_thread
        self.writes, self.lock = [], threading.Lock()
        self.stop_event = threading.Event()
        self.recent = []
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(len(tokens))]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _run(self, t):
        deadline = time.monotonic() + self.seconds
        rng = random.Random(t)
        for i in range(self.max_per_thread):
            if self.stop_event.is_set() or time.monotonic() > deadline:
                return
            colliding = self.collide and i % 4 == 3 and bool(self.recent)
            if colliding:
                with self.lock:
                    at = rng.choice(self.recent[-8:]) + HOUR_MS
            else:
                at = next_slot()
                with self.lock:
                    self.recent.append(at)
            w = post_order(self.port_of(), self.tokens[t], at, colliding)
            with self.lock:
                self.writes.append(w)
            if w.status is None:
                time.sleep(0.05)  # no server there: do not spin
            elif self.pause:
                time.sleep(self.pause)

    def stop(self):
        self.stop_event.set()
        return self.wait()

    def wait(self):
        """The writes, once every writer has reached its deadline (or was stopped)."""
        for t in self.threads:
            t.join(timeout=self.seconds + 60)
        return self.writes


def lost_to_collider(w):
    """A write at a free slot may lose to a colliding write (1 h after that slot) that got
    there first: its 409 then names that order."""
    try:
        return parse_iso_ms(json.loads(w.body)["conflicting_order"]["datetime"]) == w.datetime_ms + HOUR_MS
    except (ValueError, KeyError, TypeError):
        return False


def summarize(writes):
    by = {}
    for w in writes:
        key = w.status if w.status is not None else "no answer"
        by[key] = by.get(key, 0) + 1
    answered = sorted(w.latency for w in writes if w.status is not None)
    p = lambda q: answered[min(len(answered) - 1, int(len(answered) * q))] * 1000 if answered else 0
    counts = ", ".join(f"{v}×{k}" for k, v in sorted(by.items(), key=lambda kv: str(kv[0])))
    return f"{len(writes)} writes ({counts}); p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, max {p(1.0):.0f} ms"


def check_write_bounds(out, writes, allowed=(201, 409, 503), bound=WRITE_BOUND, what="write"):
    slow = [w for w in writes if w.status is not None and w.latency > bound]
    out.check(not slow, f"{len(slow)} {what}s answered after more than {bound:g} s "
                        f"(slowest {max((w.latency for w in slow), default=0):.2f} s, status {slow[0].status if slow else ''})")
    odd = [w for w in writes if w.status is not None and w.status not in allowed]
    out.check(not odd, f"{len(odd)} {what}s answered {sorted({w.status for w in odd})}, expected one of {list(allowed)}")
    unready = [w for w in writes if w.status == 503 and not w.retry_after]
    out.check(not unready, f"{len(unready)} {what}s refused 503 without Retry-After")


def check_store(out, ctx, port, acked):
    """The invariants over the database after writes: (a) no two orders closer than min_gap;
    (b) every acknowledged write (201) is stored with its datetime and has exactly one
    `created` event; (c) /events, paged to the end, has strictly increasing seq and reaches
    every history row; (d) /orders/{id}/history of acknowledged orders answers that event."""
    db = ctx.db
    rows = [(int(i), int(d)) for i, d in db.query("SELECT id, datetime FROM orders ORDER BY datetime, id")]
    closest = min(((b[1] - a[1], a, b) for a, b in zip(rows, rows[1:])), default=None)
    if closest:
        out.check(closest[0] >= MIN_GAP_MS, f"orders {closest[1][0]} and {closest[2][0]} are {closest[0]} ms apart "
                                            f"(min_gap {MIN_GAP_MS} ms)")
    stored = dict(rows)
    history = [(int(s), int(o), k) for s, o, k in db.query("SELECT seq, order_id, kind FROM history ORDER BY seq")]
    created = {}
    for _, order_id, kind in history:
        if kind == "created":
            created[order_id] = created.get(order_id, 0) + 1
    missing = [w.order_id for w in acked if w.order_id not in stored]
    out.check(not missing, f"{len(missing)} acknowledged orders are not stored: {missing[:5]}")
    moved = [w.order_id for w in acked if w.order_id in stored and stored[w.order_id] != w.datetime_ms]
    out.check(not moved, f"{len(moved)} acknowledged orders are stored at another datetime: {moved[:5]}")
    not_once = [(w.order_id, created.get(w.order_id, 0)) for w in acked if created.get(w.order_id, 0) != 1]
    out.check(not not_once, f"{len(not_once)} acknowledged orders do not have exactly one created event: {not_once[:5]}")
    dup = len({w.order_id for w in acked}) != len(acked)
    out.check(not dup, "two acknowledged writes answered the same order id")

    token = ctx.product.token("faults-reader", "reader")
    feed, after = [], 0
    for _ in range(len(history) // 1000 + 3):
        r = request(port, "GET", f"/events?after={after}&limit=1000", token=token, timeout=30)
        if not out.check(r.status == 200, f"GET /events?after={after} answered {r.status} {r.error or ''}"):
            break
        page = r.json()
        if not page:
            break
        feed.extend(e["seq"] for e in page)
        after = page[-1]["seq"]
    increasing = all(a < b for a, b in zip(feed, feed[1:]))
    out.check(increasing, "/events seq does not increase strictly")
    hist_seqs = [s for s, _, _ in history]
    out.check(set(feed) == set(hist_seqs),
              f"/events reaches {len(set(feed) & set(hist_seqs))} of {len(hist_seqs)} history rows "
              f"(and {len(set(feed) - set(hist_seqs))} not in history)")
    for w in random.Random(7).sample(acked, min(10, len(acked))):
        r = request(port, "GET", f"/orders/{w.order_id}/history", token=token)
        ok = r.status == 200 and [e["kind"] for e in r.json()] == ["created"]
        out.check(ok, f"GET /orders/{w.order_id}/history answered {r.status}: {r.body[:200]!r}")
    out.note(f"store: {len(rows)} orders, {len(history)} events, {len(acked)} acknowledged writes checked")


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Context:
    backend: str
    product: Product
    db: Database
    workdir: Path
    quick: bool
    orders: int  # imported orders 1..orders


SCENARIOS = []


def scenario(name, backends=("postgres", "sqlite")):
    def register(fn):
        SCENARIOS.append((name, backends, fn))
        return fn
    return register


def writer_tokens(ctx, n, prefix="writer"):
    return [ctx.product.token(f"{prefix}-{i}") for i in range(n)]


@scenario("slow-streams")
def slow_streams(ctx, out):
    """max_streams streamed GET /orders whose clients read nothing: meanwhile POST /orders and
    GET /orders/{id}/history answer 201/200 within 2 s each (database.max_connections is only
    2, so a stream may not hold a connection other routes need); one more stream is refused
    503 + Retry-After within 1 s; each stalled stream is cut within stream_stall + 1 s of the
    server's last write to it (its send queue to that client stops growing once the kernel's
    buffers are full): the client then reads to EOF without the body's end; a new stream is
    served after that."""
    stall = 3.0
    srv = ctx.product.serve("slow-streams", database__max_connections=2, server__stream_stall="3s")
    reader = ctx.product.token("stream-reader", "reader")
    socks = []
    try:
        for _ in range(MAX_STREAMS):
            s, status, _ = open_stalled_stream(srv.port, reader)
            socks.append(s)
            out.require(status == 200, f"a stream within max_streams answered {status}")
        last_read = time.monotonic()
        watch = StallWatch(srv.port, socks)
        extra = request(srv.port, "GET", "/orders", token=reader, timeout=30)
        out.check(extra.status == 503 and extra.latency < 1.0 and extra.header("retry-after"),
                  f"stream {MAX_STREAMS + 1} answered {extra.status} in {extra.latency:.2f} s, Retry-After "
                  f"{extra.header('retry-after')} (expected 503 with Retry-After within 1 s)")
        out.note(f"stream {MAX_STREAMS + 1}: {extra.status} in {extra.latency * 1000:.0f} ms")
        load = WriteLoad(lambda: srv.port, writer_tokens(ctx, 2), seconds=stall - 0.5, pause=0.02).start()
        reads = []
        deadline = time.monotonic() + stall - 0.5
        while time.monotonic() < deadline and len(reads) < 200:
            reads.append(request(srv.port, "GET", f"/orders/{random.randint(1, ctx.orders)}/history", token=reader))
        writes = load.stop()
        check_write_bounds(out, writes, allowed=(201,), bound=2.0)
        out.check(writes and all(w.status == 201 for w in writes), "no write succeeded beside the stalled streams")
        bad_reads = [r for r in reads if r.status != 200 or r.latency > 2.0]
        out.check(not bad_reads, f"{len(bad_reads)} of {len(reads)} history reads failed or took over 2 s "
                                 f"(first: {bad_reads[0].status if bad_reads else ''} {bad_reads[0].error if bad_reads else ''})")
        out.note(summarize(writes) + f"; {len(reads)} history reads, max "
                 f"{max((r.latency for r in reads), default=0) * 1000:.0f} ms")
        stalled = watch.stalled()
        out.note("the server's writes stalled " + ", ".join(f"{t - last_read:.2f}" for t in stalled) +
                 f" s after the clients' last read, with {', '.join(str(q) for q in watch.last)} bytes queued")
        time.sleep(max(0.0, max(stalled) + stall + 1.0 - time.monotonic()))
        for i, s in enumerate(socks):
            how, nbytes, complete = drain(s, 10.0)
            out.check(how in ("eof", "reset") and not complete,
                      f"stalled stream {i + 1} was not cut within stream_stall + 1 s of the server's last write: "
                      f"{how} after {nbytes} more bytes, body complete: {complete}")
        after = request(srv.port, "GET", "/orders?from=2600-01-01T00:00:00Z", token=reader, timeout=30)
        out.check(after.status == 200, f"a stream after the cut answered {after.status} {after.error or ''} "
                                       f"(the stalled ones still hold their slots)")
        check_store(out, ctx, srv.port, [w for w in writes if w.status == 201])
    finally:
        close_quietly(*socks)
        srv.ensure_stopped()


class LockHolder:
    """Holds the store's write lock from outside the product: on PostgreSQL a psql session in
    `BEGIN; SELECT pg_advisory_xact_lock(key)`, on SQLite a connection in `BEGIN IMMEDIATE`."""

    def __init__(self, db):
        self.db = db
        if db.backend == "postgres":
            self.proc = subprocess.Popen(db.psql_args(db.name) + ["-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, bufsize=1)
            self.lines = queue.Queue()
            threading.Thread(target=self._read, daemon=True).start()
            self.proc.stdin.write(f"BEGIN;\nSELECT 1 FROM pg_advisory_xact_lock({POSTGRES_WRITE_LOCK});\n\\echo locked\n")
            self.proc.stdin.flush()
            self._await("locked")
        else:
            self.conn = sqlite3.connect(str(db.path), timeout=10, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        self.locked_at = time.monotonic()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _await(self, word, timeout=30):
        """Waits for psql to echo `word`, skipping query output; what it said otherwise fails."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line == word:
                return
            if line is None:
                break
            seen.append(line)
        raise Violation(f"the psql lock holder did not echo {word!r} within {timeout} s: {' | '.join(seen)[:300]}")

    def release(self):
        if self.db.backend == "postgres":
            self.proc.stdin.write("COMMIT;\n\\echo released\n")
            self.proc.stdin.flush()
            self._await("released")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        else:
            self.conn.execute("COMMIT")
            self.conn.close()
        return time.monotonic()

    def abandon(self):
        if self.db.backend == "postgres":
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=30)
        else:
            try:
                self.conn.close()
            except sqlite3.Error:
                pass


@scenario("stuck-lock")
def stuck_lock(ctx, out):
    """Another session holds the store's write lock (PostgreSQL: psql in
    pg_advisory_xact_lock; SQLite: BEGIN IMMEDIATE on the file) for 3 s: every write is refused
    503 + Retry-After within lock_timeout + 1 s, reads answer 200 within 1 s; a write waiting
    when the holder releases, and a write sent right after, both get 201 within 1 s of the
    release. Then an import whose stdin stalls holds no lock: writes beside it get 201 within
    lock_timeout + 1 s, and once its input ends it imports its record."""
    srv = ctx.product.serve("stuck-lock")
    tokens = writer_tokens(ctx, 3)
    holder = None
    importer = None
    try:
        warm = post_order(srv.port, tokens[0], next_slot())
        out.require(warm.status == 201, f"a write before the attack answered {warm.status} {warm.error or ''}")
        acked = [warm]
        hold = 3.0
        holder = LockHolder(ctx.db)
        refused = []

        def refuse_loop(t):
            while time.monotonic() < holder.locked_at + hold - LOCK_TIMEOUT - 0.5:
                refused.append(post_order(srv.port, tokens[t], next_slot()))
        threads = [threading.Thread(target=refuse_loop, args=(t,)) for t in range(2)]
        for t in threads:
            t.start()
        reader = ctx.product.token("lock-reader", "reader")
        read = request(srv.port, "GET", "/orders/1", token=reader)
        for t in threads:
            t.join(timeout=60)
        out.check(read.status == 200 and read.latency < 1.0,
                  f"a read while the lock was held answered {read.status} in {read.latency:.2f} s")
        out.check(refused, "no write was tried while the lock was held")
        late = [w for w in refused if w.latency > LOCK_TIMEOUT + 1.0 or w.status is None]
        out.check(not late, f"{len(late)} writes took longer than lock_timeout + 1 s to be refused "
                            f"(slowest {max((w.latency for w in late), default=0):.2f} s)")
        not503 = [w for w in refused if w.status != 503 or not w.retry_after]
        out.check(not not503, f"{len(not503)} writes under the held lock were not 503 + Retry-After: "
                              f"{sorted({str(w.status) for w in not503})}")
        acked += [w for w in refused if w.status == 201]
        out.note(f"held lock: {summarize(refused)}")
        # One write waits on the lock as it is released; one more is sent right after.
        waiting = []
        waiter = threading.Thread(target=lambda: waiting.append(post_order(srv.port, tokens[2], next_slot())))
        time.sleep(max(0.0, holder.locked_at + hold - time.monotonic()))
        waiter.start()
        time.sleep(min(0.5, LOCK_TIMEOUT / 2))
        released = holder.release()
        holder = None
        after = post_order(srv.port, tokens[0], next_slot())
        waiter.join(timeout=60)
        for what, w in (("the write waiting at the release", waiting[0] if waiting else None), ("the write after it", after)):
            if not out.check(w is not None and w.status == 201, f"{what} answered {w and w.status} {w and w.error or ''}"):
                continue
            done = w.started + w.latency - released
            out.check(done <= 1.0, f"{what} succeeded {done:.2f} s after the release (bound 1 s)")
            out.note(f"{what}: 201 {done * 1000:.0f} ms after the release")
            acked.append(w)
        # A stalled import: its input arrives slowly; writes beside it must not wait on it.
        at = next_slot()
        record = json.dumps({"id": 900_000_001, "datetime": iso(at), "totalfee": 1, "services": [{"id": 123, "name": "Inspection"}]})
        importer = subprocess.Popen([ctx.product.bin, "import", "-"], env=ctx.product.env, cwd=ctx.workdir,
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        importer.stdin.write(record + "\n")
        importer.stdin.flush()
        time.sleep(0.5)  # it has read (and may lock for) its first record
        beside = [post_order(srv.port, tokens[1], next_slot()) for _ in range(3)]
        slow = [w for w in beside if w.status != 201 or w.latency > LOCK_TIMEOUT + 1.0]
        out.check(not slow, f"writes beside an import with stalled input: "
                            f"{[(w.status, round(w.latency, 2)) for w in beside]} (expected 201 within lock_timeout + 1 s)")
        acked += [w for w in beside if w.status == 201]
        importer.stdin.close()
        code = importer.wait(timeout=60)
        out.check(code == 0, f"the stalled import exited {code}: {importer.stderr.read()[:300]}")
        importer = None
        out.note(f"beside a stalled import: {[(w.status, round(w.latency * 1000)) for w in beside]} ms")
        check_store(out, ctx, srv.port, acked)
    finally:
        if holder:
            holder.abandon()
        if importer and importer.poll() is None:
            importer.kill()
            importer.wait(timeout=30)
        srv.ensure_stopped()


@scenario("sigterm")
def sigterm(ctx, out):
    """SIGTERM while max_streams stalled streams, half-sent headers and idle keep-alive
    connections are open (stream_stall and header_timeout set to 60 s, so only the shutdown can
    end them): serve exits 0 within shutdown_grace + 1 s."""
    srv = ctx.product.serve("sigterm", server__stream_stall="60s", server__header_timeout="60s")
    reader = ctx.product.token("term-reader", "reader")
    socks = []
    try:
        for _ in range(MAX_STREAMS):
            s, status, _ = open_stalled_stream(srv.port, reader)
            socks.append(s)
            out.require(status == 200, f"a stream answered {status}")
        for _ in range(20):
            s = raw_connect(srv.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            socks.append(s)
        for _ in range(5):
            s = raw_connect(srv.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(4096)
            socks.append(s)
        time.sleep(0.5)
        secs, code = srv.terminate(timeout=SHUTDOWN_GRACE + 20)
        out.check(secs is not None and secs <= SHUTDOWN_GRACE + 1.0,
                  f"serve took {'over 20' if secs is None else f'{secs:.2f}'} s to exit after SIGTERM "
                  f"(bound shutdown_grace + 1 s = {SHUTDOWN_GRACE + 1:g} s)")
        out.check(code == 0, f"serve exited {code} after SIGTERM")
        if secs is not None:
            out.note(f"exit {code} {secs * 1000:.0f} ms after SIGTERM (grace {SHUTDOWN_GRACE:g} s)")
    finally:
        close_quietly(*socks)
        srv.ensure_stopped()


@scenario("half-open-headers")
def half_open_headers(ctx, out):
    """Thousands of connections each send half a request header, and a few idle keep-alive
    connections sit after one request: the server closes every one within header_timeout + 1 s
    (each socket read to EOF or reset), and a normal request (GET /healthz, GET /orders/{id})
    is answered 200 within 1 s meanwhile."""
    count = 1500 if ctx.quick else 3000
    srv = ctx.product.serve("half-open")
    reader = ctx.product.token("half-reader", "reader")
    socks = []
    try:
        started = time.monotonic()
        socks, sent = open_half_open(srv.port, count)
        for i in range(10):
            s = raw_connect(srv.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(4096)
            socks.append(s)
            sent.append(time.monotonic())
        out.note(f"{count} half-open + 10 idle connections opened in {time.monotonic() - started:.2f} s")
        normal = [request(srv.port, "GET", "/healthz"), request(srv.port, "GET", "/orders/1", token=reader)]
        for r in normal:
            out.check(r.status == 200 and r.latency < 1.0,
                      f"a normal request beside them answered {r.status} in {r.latency:.2f} s {r.error or ''}")
        out.note(f"normal requests meanwhile: {[(r.status, round(r.latency * 1000)) for r in normal]} ms")
        closed = await_closed(socks, max(sent) + HEADER_TIMEOUT + 1.5)
        open_left = sum(1 for c in closed if c is None)
        late = [c - s for c, s in zip(closed, sent) if c is not None and c - s > HEADER_TIMEOUT + 1.0]
        out.check(open_left == 0, f"{open_left} of {len(socks)} connections still open {HEADER_TIMEOUT + 1.5:g} s "
                                  f"after their last byte (header_timeout {HEADER_TIMEOUT:g} s)")
        out.check(not late, f"{len(late)} connections closed later than header_timeout + 1 s after their last "
                            f"byte (latest {max(late, default=0):.2f} s)")
        times = sorted(c - s for c, s in zip(closed, sent) if c is not None)
        if times:
            out.note(f"closed {times[0]:.2f}–{times[-1]:.2f} s after their last byte (median "
                     f"{times[len(times) // 2]:.2f} s)")
        after = request(srv.port, "GET", "/healthz")
        out.check(after.status == 200, f"/healthz after the attack answered {after.status}")
    finally:
        close_quietly(*socks)
        srv.ensure_stopped()


@scenario("connection-cap")
def connection_cap(ctx, out):
    """server.max_connections = 50 and 200 connections sending half a header: the server
    never holds more than 50 client connections open at once (its socket fds matched against
    /proc/net/tcp every 20 ms, distinct sockets; a count over the cap must be confirmed by a
    second count at once, as the reads are no snapshot), every connection is closed within
    (200 / 50 + 2) × (header_timeout + 1 s), and a normal request queued behind them is answered
    200 within that (after waiting in the kernel's queue)."""
    cap, count = 50, 200
    srv = ctx.product.serve("cap", server__max_connections=cap)
    socks = []
    peak = [0]
    stop = threading.Event()

    spikes = []

    def sample():
        while not stop.is_set():
            count = srv.accepted_connections()
            if count > cap:  # confirmed by a second count at once (see the docstring)
                again = srv.accepted_connections()
                spikes.append((count, again))
                count = min(count, again)
            peak[0] = max(peak[0], count)
            time.sleep(0.02)
    sampler = threading.Thread(target=sample, daemon=True)
    try:
        sampler.start()
        socks, _ = open_half_open(srv.port, count, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        bound = (count // cap + 2) * (HEADER_TIMEOUT + 1.0)
        normal = request(srv.port, "GET", "/healthz", timeout=bound + 5)
        out.check(normal.status == 200 and normal.latency <= bound,
                  f"a request queued behind {count} half-open connections answered {normal.status} in "
                  f"{normal.latency:.2f} s (bound {bound:g} s) {normal.error or ''}")
        closed = await_closed(socks, normal.started + bound)
        stop.set()
        sampler.join(timeout=10)
        left = sum(1 for c in closed if c is None)
        out.check(left == 0, f"{left} of {count} half-open connections were not closed within {bound:g} s")
        out.check(peak[0] <= cap, f"the server held {peak[0]} client connections at once (max_connections {cap})")
        out.note(f"peak {peak[0]} connections held (cap {cap}); the queued request: {normal.status} after "
                 f"{normal.latency:.2f} s" + (f"; counts over the cap not confirmed by a second count: {spikes}"
                                               if spikes and peak[0] <= cap else ""))
    finally:
        stop.set()
        close_quietly(*socks)
        srv.ensure_stopped()


def refresh_flood(ctx, out, rate_limit):
    srv = ctx.product.serve(f"flood-{rate_limit}", server__rate_limit=rate_limit)
    seconds = 3.0 if ctx.quick else 8.0
    flood, lock = [], threading.Lock()

    def flooder(seed):
        rng = random.Random(seed)
        deadline = time.monotonic() + seconds
        for _ in range(100_000):
            if time.monotonic() > deadline:
                return
            token = secrets.token_urlsafe(rng.choice((8, 32, 43, 64)))
            r = request(srv.port, "POST", "/auth/refresh", body={"refresh_token": token})
            with lock:
                flood.append(r)
    try:
        threads = [threading.Thread(target=flooder, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        load = WriteLoad(lambda: srv.port, writer_tokens(ctx, 2, f"flood{rate_limit}"), seconds=seconds,
                         pause=0.05).start()
        for t in threads:
            t.join(timeout=seconds + 60)
        writes = load.stop()
        allowed = (401, 429) if rate_limit else (401,)
        odd = [r for r in flood if r.status not in allowed]
        out.check(not odd, f"{len(odd)} of {len(flood)} garbage refreshes answered "
                           f"{sorted({str(r.status) + (' ' + r.error if r.error else '') for r in odd})[:3]}, "
                           f"expected {list(allowed)}")
        limited = [r for r in flood if r.status == 429]
        if rate_limit:
            out.check(limited, f"rate_limit {rate_limit}/s and {len(flood) / seconds:.0f} refreshes/s from one IP, "
                               f"yet no 429")
            out.check(all(r.header("retry-after") for r in limited), "a 429 without Retry-After")
        check_write_bounds(out, writes, allowed=(201,), bound=1.0)
        out.check(any(w.status == 201 for w in writes), "no write succeeded during the flood")
        by = {}
        for r in flood:
            by[r.status] = by.get(r.status, 0) + 1
        lat = sorted(r.latency for r in flood)
        out.note(f"rate_limit {rate_limit}: {len(flood)} garbage refreshes ({by}), p99 "
                 f"{lat[int(len(lat) * 0.99)] * 1000 if lat else 0:.0f} ms; {summarize(writes)}")
        check_store(out, ctx, srv.port, [w for w in writes if w.status == 201])
    finally:
        srv.ensure_stopped()


@scenario("refresh-flood")
def refresh_flood_unlimited(ctx, out):
    """6 threads POST /auth/refresh with random tokens and no credentials while 2 writers
    create orders, rate limit off: every flood request is 401, every write 201 within 1 s."""
    refresh_flood(ctx, out, 0)


@scenario("refresh-flood-rate-limited")
def refresh_flood_limited(ctx, out):
    """The same flood with server.rate_limit = 20/s: flood requests are 401 or 429 (+
    Retry-After), and some are 429; the writers (each its own token subject, 20 writes/s at
    most) still get 201 within 1 s."""
    refresh_flood(ctx, out, 20)


@scenario("refresh-under-lock")
def refresh_under_lock(ctx, out):
    """While another session holds the store's write lock for 2 s, garbage POST /auth/refresh
    from 3 threads are each answered 401 within 0.5 s (an unknown refresh token costs one
    indexed read, never the write lock)."""
    srv = ctx.product.serve("refresh-lock")
    holder = None
    try:
        holder = LockHolder(ctx.db)
        answers, lock = [], threading.Lock()

        def flooder():
            for _ in range(1000):
                if time.monotonic() > holder.locked_at + 2.0:
                    return
                r = request(srv.port, "POST", "/auth/refresh", body={"refresh_token": secrets.token_urlsafe(32)})
                with lock:
                    answers.append(r)
        threads = [threading.Thread(target=flooder) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        holder.release()
        holder = None
        bad = [r for r in answers if r.status != 401 or r.latency > 0.5]
        out.check(answers and not bad, f"{len(bad)} of {len(answers)} garbage refreshes under the held lock were not "
                                       f"401 within 0.5 s: {sorted({(r.status, round(r.latency, 1)) for r in bad})[:4]}")
        lat = sorted(r.latency for r in answers)
        if lat:
            out.note(f"{len(answers)} garbage refreshes under the held lock, max {lat[-1] * 1000:.0f} ms")
    finally:
        if holder:
            holder.abandon()
        srv.ensure_stopped()


@scenario("kill-9")
def kill_9(ctx, out):
    """kill -9 of serve under 4 writer threads (every 4th write collides on purpose with
    another writer's slot), restart on the same port, writers continue: every answered write
    is 201, 409 (only the colliding ones, or a free slot a colliding write took first) or 503
    within lock_timeout + 1 s; then the store
    invariants (no two orders closer than min_gap, every 201 stored once with one created
    event, /events reaching every history row in increasing seq)."""
    srv = ctx.product.serve("kill9")
    try:
        load = WriteLoad(lambda: srv.port, writer_tokens(ctx, 4, "kill9"), seconds=60, collide=True).start()
        time.sleep(1.5)
        port = srv.port
        srv.kill9()
        killed = time.monotonic()
        srv.start(port)
        out.note(f"serve killed with SIGKILL and listening again after {time.monotonic() - killed:.2f} s")
        time.sleep(2.0)
        writes = load.stop()
        check_write_bounds(out, writes)
        wrong409 = [w for w in writes if w.status == 409 and not w.colliding and not lost_to_collider(w)]
        out.check(not wrong409, f"{len(wrong409)} writes at free slots were refused 409 naming another order: "
                                f"{[(iso(w.datetime_ms), w.body.decode(errors='replace')) for w in wrong409[:2]]}")
        out.check(any(w.status == 201 and w.started > killed for w in writes), "no write succeeded after the restart")
        out.check(any(w.status == 409 for w in writes), "no colliding write was refused 409")
        out.note(summarize(writes))
        check_store(out, ctx, srv.port, [w for w in writes if w.status == 201])
    finally:
        srv.ensure_stopped()


@scenario("postgres-restart", backends=("postgres",))
def postgres_restart(ctx, out):
    """PostgreSQL crashes (pg_ctl stop -m immediate) under 3 writer threads and comes back
    7 s later (a throwaway cluster, not the shared server): while it is down writes are refused
    503 + Retry-After (or, sent while it was down, succeed once it is back) and /readyz is 503,
    each answered within 6 s (the pool's 5 s acquire time-out, src/store/reader.rs, + 1 s:
    lock_timeout does not bound waiting for a connection);
    within 3 s of PostgreSQL accepting connections again writes get 201; then the store
    invariants hold (no acknowledged write lost: the cluster keeps fsync on)."""
    cluster = PrivateCluster(ctx.workdir)
    db = product = srv = None
    try:
        db = Database("postgres", ctx.workdir, pg_port=cluster.port)
        product = Product(ctx.product.bin, db, ctx.workdir)
        small = ctx.workdir / "orders-small.ndjson"
        with open(ctx.workdir / "orders.ndjson") as src, open(small, "w") as dst:
            dst.writelines(itertools.islice(src, 1000))
        product.run("import", str(small))
        sub = Context(ctx.backend, product, db, ctx.workdir, ctx.quick, 1000)
        srv = product.serve("pg-restart")
        load = WriteLoad(lambda: srv.port, [product.token(f"pgr-{i}") for i in range(3)], seconds=60,
                         collide=True).start()
        time.sleep(1.5)
        cluster.stop("immediate")
        down_at = time.monotonic()
        time.sleep(0.3)
        ready_down = request(srv.port, "GET", "/readyz", timeout=15)
        time.sleep(max(0.0, down_at + 7.0 - time.monotonic()))
        cluster.start()
        up_at = time.monotonic()
        time.sleep(2.5)
        writes = load.stop()
        out.note(f"PostgreSQL down {up_at - down_at:.2f} s")
        out.check(ready_down.status == 503 and ready_down.latency <= 6.0,
                  f"/readyz while PostgreSQL was down answered {ready_down.status} in {ready_down.latency:.2f} s")
        out.note(f"/readyz while down: {ready_down.status} in {ready_down.latency:.2f} s")
        check_write_bounds(out, writes, bound=6.0)
        refused = [w for w in writes if w.status == 503 and down_at < w.started + w.latency < up_at + 0.5]
        out.check(refused, "no write was refused 503 while PostgreSQL was down")
        first_ok = min((w.started + w.latency for w in writes if w.status == 201 and w.started >= up_at), default=None)
        out.check(first_ok is not None and first_ok - up_at <= 3.0,
                  f"first 201 after PostgreSQL came back: "
                  f"{'none' if first_ok is None else f'{first_ok - up_at:.2f} s'} (bound 3 s)")
        out.note(summarize(writes) + (f"; first 201 {first_ok - up_at:.2f} s after it was back" if first_ok else ""))
        check_store(out, sub, srv.port, [w for w in writes if w.status == 201])
    finally:
        if srv:
            srv.ensure_stopped()
        cluster.destroy()


# Scenarios in modules of their own (faults/, this script's folder, is on sys.path)
import replicas  # noqa: E402  (registered after `scenario` and the helpers it uses exist)

replicas.register(sys.modules[__name__])


# ---------------------------------------------------------------------------------------------
# Running


def generate(n, path):
    rng = random.Random(n)
    at = DATA_START_MS
    with open(path, "w") as f:
        for i in range(1, n + 1):
            at += 3 * HOUR_MS + rng.randrange(0, HOUR_MS // 2)
            services = [SERVICES[i % 3]] + rng.sample(LONG_SERVICES, 4)
            f.write(json.dumps({"id": i, "datetime": iso(at), "totalfee": rng.randrange(0, 100_000) / 100,
                                "services": [{"id": sid, "name": name} for sid, name in services]}) + "\n")


def run_backend(backend, args, workdir, results):
    selected = [(n, fn) for n, b, fn in SCENARIOS if backend in b and (not args.only or n in args.only)]
    if not selected:
        return
    db = Database(backend, workdir)
    try:
        product = Product(args.bin, db, workdir)
        started = time.monotonic()
        product.run("import", str(workdir / "orders.ndjson"))
        log(f"{backend}: {args.orders} orders imported in {time.monotonic() - started:.1f} s")
        ctx = Context(backend, product, db, workdir, args.quick, args.orders)
        for name, fn in selected:
            out = Outcome()
            log(f"{backend}: {name}")
            started = time.monotonic()
            try:
                fn(ctx, out)
            except Violation as v:
                out.violations.append(str(v))
            except Exception as e:  # a harness or product failure is a failed scenario, not a crash
                out.violations.append(f"{type(e).__name__}: {e}")
                traceback.print_exc(file=sys.stderr)
            secs = time.monotonic() - started
            results.append((backend, name, fn.__doc__, out, secs))
            report(backend, name, fn.__doc__, out, secs)
    finally:
        db.drop()


def report(backend, name, doc, out, secs):
    mark = "PASS" if not out.violations else "FAIL"
    print(f"{mark} {backend:8} {name} ({secs:.1f} s)", flush=True)
    print("     invariant: " + " ".join(doc.split()), flush=True)
    for n in out.notes:
        print(f"     - {n}", flush=True)
    for v in out.violations:
        print(f"     ! {v}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="Fault scenarios of docs/limits.md against the real binary.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", default=True, help="the short form (default; CI)")
    mode.add_argument("--full", dest="quick", action="store_false", help="more orders, connections and time")
    parser.add_argument("--bin", type=Path, default=DEFAULT_BIN, help=f"the orders binary (default {DEFAULT_BIN})")
    parser.add_argument("--backend", action="append", choices=["postgres", "sqlite"])
    parser.add_argument("--only", action="append", metavar="SCENARIO",
                        help="run only this scenario (repeatable): " + ", ".join(n for n, _, _ in SCENARIOS))
    parser.add_argument("--orders", type=int, help="orders imported before the scenarios (default 12000; --full 50000)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server logs) afterwards")
    args = parser.parse_args()
    args.orders = args.orders or (12_000 if args.quick else 50_000)
    args.bin = args.bin.resolve()
    if not args.bin.exists():
        sys.exit(f"faults: no binary at {args.bin} (cargo build, or --bin PATH)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 20_000) if hard != resource.RLIM_INFINITY else 20_000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    backends = args.backend or ["postgres", "sqlite"]
    # SIGTERM (a CI time-out, a kill by hand) unwinds like Ctrl-C: servers, lock holders, the
    # throwaway cluster and the databases are cleaned up by the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = Path(tempfile.mkdtemp(prefix="orders-faults-"))
    results = []
    try:
        generate(args.orders, workdir / "orders.ndjson")
        for backend in backends:
            run_backend(backend, args, workdir, results)
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failed = [(b, n) for b, n, _, out, _ in results if out.violations]
    log(f"done in {time.monotonic() - STARTED:.1f} s; failed: {', '.join(f'{b}/{n}' for b, n in failed) or 'none'}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    sys.exit(1 if failed or not results else 0)


if __name__ == "__main__":
    main()
