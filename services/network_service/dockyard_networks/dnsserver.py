"""The embedded DNS server (127.0.0.11:53 in each sandbox on a user-defined network).

One thread and one selector serve every sandbox. Each sandbox gets a UDP and a TCP socket bound
to 127.0.0.11:53 *inside its netns*: they are created by a throwaway thread that entered the
netns (netns.run_in), and a socket stays in the namespace it was created in, so this thread,
which never leaves the host's namespace, serves them all. Queries for names that are not ours go
to the container's own --dns servers from *its* netns (as Docker: `--dns 127.0.0.1` means the
container's loopback), else to the host's resolvers from the host's namespace (so a local
resolver such as 127.0.0.53 works), or get NXDOMAIN at once when there is none.

Sockets hold a reference to their netns: they are closed before the sandbox is destroyed.
"""

import collections
import logging
import selectors
import socket
import struct
import threading
import time

from . import dnsrecords, netns

log = logging.getLogger(__name__)

ADDRESS = ("127.0.0.11", 53)
UPSTREAM_TIMEOUT = 2.0
TCP_IDLE = 5.0
MAX_PENDING = 512


def open_in_netns(netns_path):
    """(udp, tcp) sockets bound to 127.0.0.11:53 inside the netns at `netns_path`."""
    return netns.run_in(netns_path, _bind_here)


def upstream_socket(family, netns_path=None):
    """A UDP socket for asking an upstream: in the container's netns when one is given."""
    if netns_path:
        return netns.run_in(netns_path, socket.socket, family, socket.SOCK_DGRAM)
    return socket.socket(family, socket.SOCK_DGRAM)


def _bind_here():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        for s in (udp, tcp):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(ADDRESS)
            s.setblocking(False)
        tcp.listen(16)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


class DnsServer:
    def __init__(self, upstreams=(), open_sockets=open_in_netns, new_upstream=upstream_socket):
        self.records = dnsrecords.Records()
        self.upstreams = list(upstreams)   # [(ip, port)]
        self._open = open_sockets
        self._new_upstream = new_upstream
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._cmds = collections.deque()
        self._lock = threading.Lock()
        self._known = {}      # caller side: container id -> netns path served
        self._socks = {}      # thread side: container id -> [udp, tcp]
        self._paths = {}      # thread side: container id -> netns path
        self._conns = {}      # tcp connection -> [container id, buffer, deadline]
        self._pending = {}    # upstream socket -> [reply fn, query, upstream index, deadline, cid]
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="dns", daemon=True)

    # ---------------------------------------------------------------- caller side
    def start(self):
        self._thread.start()

    def close(self):
        self._stop = True
        self._wake()
        self._thread.join(timeout=5)

    def served(self):
        with self._lock:
            return dict(self._known)

    def update(self, records, wanted):
        """Answer from `records`; listen in exactly the sandboxes of `wanted` (container id ->
        netns path). Returns once sockets of sandboxes no longer wanted are closed."""
        self.records = records
        with self._lock:
            gone = [c for c, p in self._known.items() if wanted.get(c) != p]
            opened = {}
            for cid, path in wanted.items():
                if self._known.get(cid) == path:
                    continue
                try:
                    opened[cid] = (*self._open(path), path)
                except OSError as exc:
                    log.warning("cannot open the DNS socket in %s: %s", path, exc)
            for cid in gone:
                del self._known[cid]
            self._known.update({c: wanted[c] for c in opened})
            if gone or opened:
                self._call(gone, opened)

    def forget(self, container_id):
        """Close a sandbox's sockets now (before its netns is destroyed)."""
        with self._lock:
            if self._known.pop(container_id, None) is not None:
                self._call([container_id], {})

    def _call(self, gone, opened):
        done = threading.Event()
        self._cmds.append((gone, opened, done))
        self._wake()
        if self._thread.is_alive():
            if not done.wait(10):
                log.warning("DNS thread did not apply a change in time")
        else:
            self._apply()  # not started (tests, or before start): apply here

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # ---------------------------------------------------------------- DNS thread
    def _loop(self):
        while not self._stop:
            try:
                events = self._sel.select(self._next_timeout())
                for key, _ in events:
                    self._dispatch(key)
                self._expire()
            except Exception:
                log.exception("DNS loop error")
                time.sleep(0.1)
        self._apply()
        for cid in list(self._socks):
            self._close_sandbox(cid)

    def _dispatch(self, key):
        kind, cid = key.data
        sock = key.fileobj
        try:
            if kind == "wake":
                while True:
                    try:
                        if not sock.recv(512):
                            break
                    except BlockingIOError:
                        break
                self._apply()
            elif kind == "udp":
                self._on_udp(sock, cid)
            elif kind == "listen":
                self._on_accept(sock, cid)
            elif kind == "conn":
                self._on_conn(sock)
            elif kind == "upstream":
                self._on_upstream(sock)
        except Exception:
            log.exception("DNS %s error", kind)

    def _apply(self):
        while self._cmds:
            gone, opened, done = self._cmds.popleft()
            for cid in gone:
                self._close_sandbox(cid)
            for cid, (udp, tcp, path) in opened.items():
                self._close_sandbox(cid)
                self._socks[cid] = [udp, tcp]
                self._paths[cid] = path
                self._sel.register(udp, selectors.EVENT_READ, ("udp", cid))
                self._sel.register(tcp, selectors.EVENT_READ, ("listen", cid))
            done.set()

    def _close_sandbox(self, cid):
        self._paths.pop(cid, None)
        for s in self._socks.pop(cid, []):
            self._drop(s)
        for conn in [c for c, st in self._conns.items() if st[0] == cid]:
            self._drop(conn)
        for up in [u for u, st in self._pending.items() if st[4] == cid]:
            self._drop(up)

    def _drop(self, sock):
        self._conns.pop(sock, None)
        self._pending.pop(sock, None)
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()

    def _targets(self, cid):
        """[(ip, port, netns path or None)] to forward the container's queries to."""
        own = self.records.upstreams.get(cid)
        if own:
            return [(ip, port, self._paths.get(cid)) for ip, port in own]
        return [(ip, port, None) for ip, port in self.upstreams]

    def _handle(self, cid, data, reply):
        out = dnsrecords.answer(self.records, cid, data, can_forward=bool(self._targets(cid)))
        if out == dnsrecords.FORWARD:
            self._forward(cid, data, reply, 0)
        elif out:
            reply(out)

    def _on_udp(self, sock, cid):
        try:
            data, addr = sock.recvfrom(4096)
        except (BlockingIOError, InterruptedError):
            return

        def reply(out):
            try:
                sock.sendto(out, addr)
            except OSError:
                pass
        self._handle(cid, data, reply)

    def _on_accept(self, sock, cid):
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        self._conns[conn] = [cid, b"", time.monotonic() + TCP_IDLE]
        self._sel.register(conn, selectors.EVENT_READ, ("conn", cid))

    def _on_conn(self, conn):
        state = self._conns.get(conn)
        if state is None:
            return
        try:
            chunk = conn.recv(65537)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(conn)
            return
        state[1] += chunk
        if len(state[1]) < 2:
            return
        (size,) = struct.unpack("!H", state[1][:2])
        if len(state[1]) < 2 + size:
            return
        data = state[1][2:2 + size]
        self._sel.unregister(conn)  # one query per connection: enough for resolvers

        def reply(out):
            try:
                conn.settimeout(1)
                conn.sendall(struct.pack("!H", len(out)) + out)
            except OSError:
                pass
            self._conns.pop(conn, None)
            conn.close()
        state[2] = time.monotonic() + UPSTREAM_TIMEOUT * (len(self._targets(state[0])) + 1)
        self._handle(state[0], data, reply)

    def _forward(self, cid, data, reply, index):
        targets = self._targets(cid)
        if index >= len(targets) or len(self._pending) >= MAX_PENDING:
            out = dnsrecords.servfail(data)
            if out:
                reply(out)
            return
        ip, port, path = targets[index]
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        try:
            up = self._new_upstream(family, path)
        except OSError as exc:  # e.g. the netns just went away
            log.warning("cannot open an upstream DNS socket: %s", exc)
            self._forward(cid, data, reply, index + 1)
            return
        try:
            up.setblocking(False)
            up.connect((ip, port))
            up.send(data)
        except OSError:
            up.close()
            self._forward(cid, data, reply, index + 1)
            return
        self._pending[up] = [reply, data, index, time.monotonic() + UPSTREAM_TIMEOUT, cid]
        self._sel.register(up, selectors.EVENT_READ, ("upstream", cid))

    def _on_upstream(self, up):
        state = self._pending.get(up)
        if state is None:
            return
        try:
            out = up.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # e.g. ICMP port unreachable: try the next one
            self._drop(up)
            self._forward(state[4], state[1], state[0], state[2] + 1)
            return
        if out[:2] != state[1][:2]:
            return  # not the answer to our query id
        self._drop(up)
        state[0](out)

    def _next_timeout(self):
        deadlines = [s[3] for s in self._pending.values()] + [s[2] for s in self._conns.values()]
        if not deadlines:
            return 1.0
        return max(0.0, min(min(deadlines) - time.monotonic(), 1.0))

    def _expire(self):
        now = time.monotonic()
        for up, state in list(self._pending.items()):
            if state[3] <= now:
                self._drop(up)
                self._forward(state[4], state[1], state[0], state[2] + 1)
        for conn, state in list(self._conns.items()):
            if state[2] <= now:
                self._drop(conn)
