"""nginx and a stand-in replica for the `replicas` scenario (faults/replicas.py).

`Nginx` runs the repo's deploy/nginx/orders.conf as committed, with only the replicas'
addresses and nginx's listen port substituted (each must occur exactly once: that is the
contract with the compose profile), as a child in the foreground with its prefix, pid file,
temp paths and error log in a folder of its own; its access log (standard output) tells which
replica answered what. nginx is installed with apt-get when it is missing. `BlackHole` is a
replica that dies with every request it is sent, to see what nginx sends again.

The harness module is passed in (`h`) for its helpers; nothing here runs on its own.
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "orders.conf"


def nginx_binary(h):
    """nginx on PATH (or Debian's /usr/sbin/nginx), installed with apt-get when missing."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise h.Violation("nginx is not installed and cannot be installed here (apt-get install nginx as root)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx"]
    h.log("replicas: installing nginx with apt-get")
    if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise h.Violation(f"apt-get install nginx failed: {done.stderr[-300:]}")
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """nginx in the foreground on 127.0.0.1:`port` in front of `upstreams` (loopback ports)."""

    def __init__(self, h, upstreams, port):
        self.h, self.port = h, port
        binary = nginx_binary(h)
        conf = CONF.read_text()
        for name, target in (("replica-1:8080", f"127.0.0.1:{upstreams[0]}"),
                             ("replica-2:8080", f"127.0.0.1:{upstreams[1]}"),
                             ("listen 8080;", f"listen 127.0.0.1:{port};")):
            if conf.count(name) != 1:
                raise h.Violation(f"{CONF.name} must hold `{name}` exactly once (the compose contract)")
            conf = conf.replace(name, target)
        # World-traversable: the workers run as nobody when nginx starts as root.
        self.dir = Path(tempfile.mkdtemp(prefix="orders-faults-nginx-", dir="/tmp"))
        self.dir.chmod(0o755)
        (self.dir / "orders.conf").write_text(conf)
        temp = self.dir / "temp"
        temp.mkdir(mode=0o755)
        (self.dir / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {self.dir}/nginx.pid;\nerror_log {self.dir}/error.log info;\n"
            "events { worker_connections 1024; }\nhttp {\n"
            + "".join(f"    {kind}_temp_path {temp}/{kind};\n"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + f"    include {self.dir}/orders.conf;\n}}\n")
        self.access_path = self.dir / "access.log"
        self.access = open(self.access_path, "wb")
        self.proc = subprocess.Popen([binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                                      "-e", str(self.dir / "error.log")],
                                     stdin=subprocess.DEVNULL, stdout=self.access, stderr=subprocess.STDOUT)
        try:
            self._await_listening()
        except BaseException:
            self.stop()
            raise

    def _await_listening(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.h.Violation(f"nginx exited {self.proc.returncode} at start: {self.error_tail()}")
            try:
                self.h.close_quietly(self.h.raw_connect(self.port))
                return
            except OSError:
                time.sleep(0.05)
        raise self.h.Violation(f"nginx did not listen within 30 s: {self.error_tail()}")

    def error_tail(self):
        path = self.dir / "error.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.splitlines()[-4:])[-600:]

    def answered_by(self):
        """{request id: the upstream addresses nginx tried for it} from the access log."""
        self.access.flush()
        found = {}
        for line in self.access_path.read_text(errors="replace").splitlines():
            m = re.search(r"rid=(\S+) upstream=(.*?) upstream_status=", line)
            if m:
                found[m.group(1)] = m.group(2)
        return found

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.access.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class BlackHole:
    """A replica that dies with every request it is sent: it reads the request whole (headers
    and Content-Length body), notes its X-Request-Id, then resets the connection."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen, self.lock, self.done = [], threading.Lock(), threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        deadline = time.monotonic() + 300
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._take, args=(conn,), daemon=True).start()

    def _take(self, conn):
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 1 << 20:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            while length and len(body) < int(length.group(1)):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            rid = re.search(rb"(?im)^x-request-id:\s*(\S+)", head)
            with self.lock:
                self.seen.append(rid.group(1).decode() if rid else "?")
        except OSError:
            pass
        finally:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def saw(self, rid):
        with self.lock:
            return rid in self.seen

    def close(self):
        self.done.set()
        self.sock.close()
