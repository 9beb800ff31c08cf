"""The `replicas` scenario of the fault harness (docs/replicas.md): two `orders serve` on one
fresh PostgreSQL database behind nginx running the repo's own deploy/nginx/orders.conf.

nginx and the stand-in replicas are in faults/replicas_nginx.py.

Registered by harness.py (`register`), whose helpers it uses: it is not run on its own.
"""

import os
import re
import threading
import time
from pathlib import Path

from replicas_nginx import BlackHole, Nginx

CONFLICT_ROUNDS, CONFLICT_CLIENTS = 4, 12
EVENTS_PAGE = 100
# orders.conf: max_fails=2 fail_timeout=5s. nginx counts it in whole seconds of its clock, so
# a replica taken out is tried again between 5 and 6 s later: waits are FAIL_TIMEOUT + 1.5 s.
FAIL_TIMEOUT = 5.0


def register(h):
    """Adds the scenario to harness `h` (the harness module itself)."""

    @h.scenario("replicas", backends=("postgres",))
    def replicas(ctx, out):
        """Two serve replicas started at once on one fresh PostgreSQL database (same JWT
        secret), behind nginx with deploy/nginx/orders.conf. Through nginx: a given X-Request-Id
        reaches a replica's log and comes back; a body of 65,000 bytes reaches a replica, one of
        70,000 gets nginx's 413 problem; 12 clients creating orders closer than min_gap at once
        get one 201 and 11 409s (4 rounds, both replicas answering). Straight to both replicas
        at once: 6 creates with one Idempotency-Key make one order; one refresh token is rotated
        once (200, 401, and the new token revoked). nginx before a replica and an empty port:
        creates are 201, some after a refused connection. nginx before two replicas that reset
        every request: a GET is sent to both, each POST, PUT, PATCH and DELETE to one only
        (502 problem+json with Retry-After). kill -9 of one replica under 4 writers at free
        slots: every write is 201, or 502 / no answer when started before 1 s after the kill,
        some succeed after it. A full streamed GET /orders is complete, and one whose client
        reads nothing is never spooled by nginx. Once the killed replica is back past
        fail_timeout, /events paged (after=, 100 a page) over both replicas is exactly the
        history table's seq in order; then the store invariants through nginx (every 201
        stored once, with one created event)."""
        Replicas(h, ctx, out).run()


def at_once(calls):
    """Runs every call in its own thread, released together; their results in order."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i):
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        results[i] = calls[i]()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


class Replicas:
    """One run of the scenario: the database, the two replicas and nginx, and the checks."""

    def __init__(self, h, ctx, out):
        self.h, self.ctx, self.out = h, ctx, out
        self.db = self.product = self.nginx = None
        self.servers, self.gateways, self.holes = [], [], []

    def run(self):
        h = self.h
        try:
            started = time.monotonic()
            self.db = h.Database("postgres", self.ctx.workdir)
            self.product = h.Product(self.ctx.product.bin, self.db, self.ctx.workdir)
            self.start_replicas()
            self.nginx = Nginx(h, [s.port for s in self.servers], h.free_port())
            self.out.require(h.request(self.nginx.port, "GET", "/healthz").status == 200, "/healthz through nginx")
            self.out.note(f"2 replicas on a fresh database and nginx answering after {time.monotonic() - started:.1f} s")
            self.product.run("import", str(self.ctx.workdir / "orders.ndjson"))
            self.reader = self.product.token("replicas-reader", "reader")
            self.request_id_passes()
            self.body_limit()
            self.conflicting_creates()
            acked_races = self.cross_replica_races()
            acked = self.refused_writes_go_to_the_other()
            self.sent_writes_are_not_resent()
            acked += acked_races + self.kill_one_under_load()
            self.streams()
            self.events_paged()
            sub = h.Context("postgres", self.product, self.db, self.ctx.workdir, self.ctx.quick, self.ctx.orders)
            h.check_store(self.out, sub, self.nginx.port, acked)
        finally:
            for gateway in [self.nginx, *self.gateways]:
                if gateway:
                    gateway.stop()
            for hole in self.holes:
                hole.close()
            for s in self.servers:
                s.ensure_stopped()
            if self.db:
                self.db.drop()

    def start_replicas(self):
        """Both at once, so both migrate the fresh database at the same time."""
        # orders.toml's defaults where orders.conf depends on them: nginx keeps idle upstream
        # connections 5 s, less than header_timeout (the harness's 1 s would break that), and
        # conflicting writers wait up to lock_timeout for each other.
        limits = {"ORDERS__DATABASE__LOCK_TIMEOUT": "5s", "ORDERS__SERVER__HEADER_TIMEOUT": "10s"}
        results = [None, None]

        def start(i):
            try:
                results[i] = self.h.Server(self.product, f"replica-{i + 1}", limits)
            except self.h.Violation as v:
                results[i] = v
        threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        self.servers = [r for r in results if isinstance(r, self.h.Server)]
        failed = [str(r) for r in results if not isinstance(r, self.h.Server)]
        self.out.require(not failed, f"replicas started at once on a fresh database: {failed}")

    def request_id_passes(self):
        rid = f"replicas-{os.getpid()}-{time.monotonic_ns()}"
        r = self.h.request(self.nginx.port, "GET", "/orders/1", token=self.reader, headers={"X-Request-Id": rid})
        self.out.check(r.status == 200 and r.header("x-request-id") == rid,
                       f"GET /orders/1 with X-Request-Id through nginx: {r.status}, id {r.header('x-request-id')}")
        logged, deadline = False, time.monotonic() + 5  # a replica writes its log lines asynchronously
        while not logged and time.monotonic() < deadline:
            logged = any(rid.encode() in s.log_path.read_bytes() for s in self.servers)
            time.sleep(0 if logged else 0.05)
        self.out.check(logged, "the X-Request-Id sent through nginx is in no replica's log")
        r = self.h.request(self.nginx.port, "GET", "/orders/1", token=self.reader)
        given = r.header("x-request-id") or ""
        # nginx writes its access-log line once the response has gone: wait for it, bounded.
        in_log, deadline = False, time.monotonic() + 5
        while not in_log and time.monotonic() < deadline:
            in_log = given in self.nginx.answered_by()
            time.sleep(0 if in_log else 0.05)
        self.out.check(re.fullmatch(r"[0-9a-f]{32}", given) and in_log,
                       f"a request without X-Request-Id came back with {given!r}, not nginx's $request_id")

    def body_limit(self):
        """A body up to the replicas' body_limit (64 KiB) reaches a replica; a larger one is
        refused by nginx with the API's 413 problem."""
        token, port = self.product.token("replicas-body"), self.nginx.port
        for size, want in ((65_000, "a replica's answer"), (70_000, "nginx's 413")):
            body = {"datetime": self.h.iso(self.h.next_slot()), "totalfee": 10, "services": [123], "pad": "x" * size}
            r = self.h.request(port, "POST", "/orders", body=body, token=token)
            from_replica = r.header("x-request-id") is not None and r.status != 413
            too_large = r.status == 413 and r.header("content-type") == "application/problem+json" \
                and r.json().get("type") == "payload-too-large"
            self.out.check(from_replica if size < 65_536 else too_large,
                           f"a {size}-byte POST through nginx: {r.status} {r.body[:120]!r}, expected {want}")

    def conflicting_creates(self):
        h, port = self.h, self.nginx.port
        tokens = [self.product.token(f"replicas-conflict-{i}") for i in range(CONFLICT_CLIENTS)]
        answered, by = [], {}
        for rnd in range(CONFLICT_ROUNDS):
            base = h.next_slot()
            h.next_slot()  # a round spans 3 h: the next round starts a whole gap after its end
            h.next_slot()
            # Offsets within one gap: every pair of these datetimes is closer than min_gap.
            ats = [base + i * (h.MIN_GAP_MS - 1) // CONFLICT_CLIENTS for i in range(CONFLICT_CLIENTS)]
            if rnd % 2:
                ats = [base] * CONFLICT_CLIENTS
            rids = [f"conflict-{rnd}-{i}-{time.monotonic_ns()}" for i in range(CONFLICT_CLIENTS)]

            def create(i):
                body = {"datetime": h.iso(ats[i]), "totalfee": 10, "services": [123]}
                return rids[i], h.request(port, "POST", "/orders", body=body, token=tokens[i],
                                          headers={"X-Request-Id": rids[i]})
            results = at_once([lambda i=i: create(i) for i in range(CONFLICT_CLIENTS)])
            statuses = sorted(r.status or 0 for _, r in results)
            self.out.check(statuses == [201] + [409] * (CONFLICT_CLIENTS - 1),
                           f"round {rnd + 1}: {CONFLICT_CLIENTS} creates closer than min_gap answered {statuses}")
            answered.extend(rid for rid, _ in results)
        upstreams = self.nginx.answered_by()
        for rid in answered:
            by[upstreams.get(rid, "?")] = by.get(upstreams.get(rid, "?"), 0) + 1
        self.out.check(len([u for u in by if u != "?"]) >= 2, f"the conflicting creates all went to one replica: {by}")
        self.out.note(f"{CONFLICT_ROUNDS} rounds of {CONFLICT_CLIENTS} conflicting creates, answered by {by}")

    def cross_replica_races(self):
        """Straight to both replicas at once: 6 creates with one Idempotency-Key and body make
        one order, each answered 201 with its id; one refresh token presented to both is
        rotated once (200), the other presentation is reuse (401) and revokes the new token."""
        h, out, ports = self.h, self.out, [s.port for s in self.servers]
        token, key = self.product.token("replicas-idem"), f"idem-{time.monotonic_ns()}"
        at = h.next_slot()
        body = {"datetime": h.iso(at), "totalfee": 10, "services": [123]}
        posts = at_once([lambda p=ports[i % 2]: h.request(p, "POST", "/orders", body=body, token=token,
                                                           headers={"Idempotency-Key": key}) for i in range(6)])
        ids = {r.json().get("id") for r in posts if r.status == 201}
        stored = self.db.query(f"SELECT id FROM orders WHERE datetime = {at}")
        out.check(all(r.status == 201 for r in posts) and len(ids) == 1 and len(stored) == 1,
                  f"6 creates with one Idempotency-Key on both replicas: {[r.status for r in posts]}, ids {ids}, "
                  f"{len(stored)} stored")
        lines = self.product.run("token", "issue", "--subject", "replicas-refresh", "--role", "reader",
                                 "--refresh").stdout.split()
        refresh = {"refresh_token": lines[-1]}
        answers = at_once([lambda p=p: h.request(p, "POST", "/auth/refresh", body=refresh) for p in ports])
        statuses = sorted(r.status or 0 for r in answers)
        out.check(statuses == [200, 401], f"one refresh token presented to both replicas at once: {statuses}")
        rotated = [r.json()["refresh_token"] for r in answers if r.status == 200]
        for p in ports[:len(rotated)]:
            again = h.request(p, "POST", "/auth/refresh", body={"refresh_token": rotated[0]})
            out.check(again.status == 401, f"the token rotated from a reused one was not revoked: {again.status}")
        acked = [h.Write(at, 201, r.latency, r.started, int(r.json()["id"])) for r in posts[:1] if r.status == 201]
        out.note(f"races across replicas: one Idempotency-Key, 6 creates: {len(stored)} order; one refresh "
                 f"token twice: {statuses}")
        return acked

    def refused_writes_go_to_the_other(self):
        """nginx before a replica and a port nothing listens on: every create is 201, and one
        refused by the empty port is sent to the replica."""
        h, out = self.h, self.out
        gateway = Nginx(h, [h.free_port(), self.servers[1].port], h.free_port())
        self.gateways.append(gateway)
        token = self.product.token("replicas-refused")
        writes, rids = [], []
        for i in range(3):
            rids.append(f"refused-{i}-{time.monotonic_ns()}")
            body = {"datetime": h.iso(h.next_slot()), "totalfee": 10, "services": [123]}
            r = h.request(gateway.port, "POST", "/orders", body=body, token=token, headers={"X-Request-Id": rids[-1]})
            order_id = r.json().get("id") if r.status == 201 else None
            writes.append(h.Write(h.parse_iso_ms(body["datetime"]), r.status, r.latency, r.started, order_id))
        tried = gateway.answered_by()
        retried = [rid for rid in rids if "," in tried.get(rid, "")]
        out.check(all(w.status == 201 for w in writes), f"creates through nginx with one upstream refusing "
                                                        f"connections answered {[w.status for w in writes]}")
        out.check(retried, f"no create refused by the empty port was sent to the replica: {[tried.get(r) for r in rids]}")
        out.note(f"{len(retried)} of 3 creates refused by an empty port were sent to the replica and created")
        return [w for w in writes if w.status == 201]

    def sent_writes_are_not_resent(self):
        """nginx before two replicas that die with every request they get: a read is asked of
        both; a write (POST, PUT, PATCH, DELETE) reaches one only and is answered 502. (max_fails
        takes a replica out after 2 failures: the last two wait for its fail_timeout.)"""
        h, out = self.h, self.out
        self.holes = [BlackHole(), BlackHole()]
        gateway = Nginx(h, [hole.port for hole in self.holes], h.free_port())
        self.gateways.append(gateway)
        token = self.product.token("replicas-resend", "admin")
        body = {"datetime": h.iso(h.next_slot()), "totalfee": 10, "services": [123]}
        asks = [("GET", "/orders/1", None), ("PUT", "/orders/1", body), ("DELETE", "/orders/2", None), None,
                ("PATCH", "/orders/3", {"totalfee": 11}), ("POST", "/orders", body)]
        for ask in asks:
            if ask is None:
                time.sleep(FAIL_TIMEOUT + 1.5)
                continue
            method, path, payload = ask
            rid = f"resend-{method}-{time.monotonic_ns()}"
            headers = {"X-Request-Id": rid, "Content-Type": "application/merge-patch+json"} if method == "PATCH" \
                else {"X-Request-Id": rid}
            r = h.request(gateway.port, method, path, body=payload, token=token, headers=headers)
            reached = sum(hole.saw(rid) for hole in self.holes)
            want = 2 if method == "GET" else 1
            out.check(r.header("content-type") == "application/problem+json" and r.header("retry-after"),
                      f"nginx's {r.status} to {method} is not a problem+json with Retry-After: {r.headers}")
            out.check(r.status == 502 and reached == want,
                      f"{method} {path} through nginx to replicas that die on it: {r.status}, sent to {reached} of "
                      f"them (expected 502 after {want})")
        out.note("a read was asked of both dying replicas, each write of one only (502)")

    def kill_one_under_load(self):
        h, out = self.h, self.out
        load = h.WriteLoad(lambda: self.nginx.port, [self.product.token(f"replicas-kill-{i}") for i in range(4)],
                           seconds=60).start()
        time.sleep(1.5)
        victim = self.servers[0]
        victim.kill9()
        killed = time.monotonic()
        time.sleep(3.0)
        writes = load.stop()
        failed = [w for w in writes if w.status != 201]
        odd = [w for w in failed if w.status not in (502, None)]
        out.check(not odd, f"{len(odd)} writes through nginx answered {sorted({w.status for w in odd})} "
                           f"(expected 201, or 502 / no answer for one in flight at the kill)")
        late = [w for w in failed if w.started >= killed + 1.0]
        out.check(not late, f"{len(late)} writes started over 1 s after the kill failed "
                            f"({sorted({str(w.status) for w in late})}): nginx did not route to the other replica")
        out.check(any(w.status == 201 and w.started > killed for w in writes), "no write succeeded after the kill")
        stored = {int(d) for (d,) in self.db.query("SELECT datetime FROM orders")}
        applied = sum(1 for w in failed if w.datetime_ms in stored)
        around = [f"{w.started - killed:+.2f}s" for w in failed]
        out.note(f"kill -9 of {victim.name} under 4 writers: {h.summarize(writes)}; {len(failed)} failed "
                 f"(started at {', '.join(around) or 'none'} from the kill), {applied} of them stored anyway")
        port = victim.port
        victim.start(port)
        # Refused tries that take it out again can only happen until it is back.
        self.back_at = time.monotonic() + FAIL_TIMEOUT + 1.5
        out.note(f"{victim.name} listening again on its port {time.monotonic() - killed:.1f} s after the kill")
        return [w for w in writes if w.status == 201]

    def streams(self):
        h, out, port = self.h, self.out, self.nginx.port
        full = h.request(port, "GET", "/orders", token=self.reader, timeout=120)
        count = int(self.db.query("SELECT count(*) FROM orders")[0][0])
        listed = len(full.json()) if full.status == 200 else None
        out.check(listed == count, f"a streamed GET /orders through nginx answered {full.status} with {listed} "
                                   f"of {count} orders {full.error or ''}")
        # nginx spools a response to a temp file only once the kernel holds no more of it for
        # the client: the listing must outgrow the largest send buffer to tell.
        send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
        out.require(len(full.body) > send_buffer + (1 << 20),
                    f"the listing ({len(full.body)} bytes) is too small to show buffering past a {send_buffer}-byte "
                    f"send buffer: run with more --orders")
        sock, status, _ = h.open_stalled_stream(port, self.reader)
        try:
            out.require(status == 200, f"a streamed GET /orders through nginx answered {status}")
            # Time for nginx to have read the whole listing from the replica, had it buffered:
            # the full stream above took full.latency.
            time.sleep(max(1.0, 2 * full.latency))
            # nginx unlinks its temp files as it opens them; it says so in its error log (warn).
            spooled = "buffered to a temporary file" in (self.nginx.dir / "error.log").read_text(errors="replace")
            out.check(not spooled, "nginx spooled a stream its client does not read to a temp file: responses "
                                   "are buffered (proxy_buffering on)")
        finally:
            h.close_quietly(sock)
        out.note(f"full stream through nginx: {listed} orders, {len(full.body) / 1e6:.1f} MB in "
                 f"{full.latency:.2f} s; one whose client reads nothing spooled nothing")

    def events_paged(self):
        h, out = self.h, self.out
        # By now nginx's fail_timeout for the killed replica, restarted since, has passed.
        time.sleep(max(0.0, self.back_at - time.monotonic()))
        history = [int(s) for (s,) in self.db.query("SELECT seq FROM history ORDER BY seq")]
        feed, after, rids = [], 0, []
        for page in range(len(history) // EVENTS_PAGE + 3):
            rid = f"events-{page}-{time.monotonic_ns()}"
            r = h.request(self.nginx.port, "GET", f"/events?after={after}&limit={EVENTS_PAGE}", token=self.reader,
                          headers={"X-Request-Id": rid})
            if not out.check(r.status == 200, f"GET /events?after={after} through nginx answered {r.status}"):
                return
            rids.append(rid)
            events = r.json()
            if not events:
                break
            feed.extend(e["seq"] for e in events)
            after = events[-1]["seq"]
        out.check(feed == history, f"/events through nginx gave {len(feed)} seqs, the history table holds "
                                   f"{len(history)}; first difference at "
                                   f"{next((i for i, (a, b) in enumerate(zip(feed, history)) if a != b), min(len(feed), len(history)))}")
        upstreams = self.nginx.answered_by()
        served = {upstreams.get(rid, "?") for rid in rids}
        out.check(len(served - {"?"}) == 2, f"the /events pages were served by {sorted(served)}, not both replicas")
        out.note(f"/events: {len(rids)} pages of {EVENTS_PAGE} through nginx, {len(feed)} events, served by {sorted(served)}")
