"""Userland proxy of ports published on IPv6 host addresses (docker-proxy's role).

The IPv4 side of a published port is kernel NAT (firewall.py). Docker 20.10 (ip6tables=false)
also publishes a port bound to every address on [::], through docker-proxy, which forwards
IPv6 clients to the container: to its IPv6 address when it has one, else to its IPv4 one.
Here one asyncio loop thread serves every such binding, whatever the number of connections:
TCP is piped both ways in chunks with backpressure (half-closes passed on, as docker-proxy);
UDP keeps one connected socket per client, dropped after 90 s without traffic (docker-proxy's
UDPConnTrackTimeout). The caller binds the sockets (they are the port reservations); the proxy
owns them from start() on and closes them at stop().
"""

import asyncio
import logging
import socket
import threading
import time

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
CONNECT_TIMEOUT = 10.0
UDP_IDLE = 90.0
UDP_PENDING = 64          # datagrams kept per client while its backend socket is being made
CALL_TIMEOUT = 15.0


class UserlandProxy:
    """Thread-safe front: start/stop run on the loop thread, which starts with the first
    binding."""

    def __init__(self):
        self._loop = None
        self._thread = None
        self._lock = threading.Lock()
        self._servers = {}    # key -> _TcpServer | _UdpServer (only touched on the loop)

    def _ensure_loop(self):
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever,
                                                name="userland-proxy", daemon=True)
                self._thread.start()
            return self._loop

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()).result(CALL_TIMEOUT)

    def start(self, key, sock, protocol, target):
        """Serve `sock` (bound; a TCP one listening) forwarding to target (ip, port)."""
        self._call(self._start(key, sock, protocol, target))

    def stop(self, key):
        """Stop serving `key`: its socket and connections are closed. Unknown keys are fine."""
        if self._loop is not None:
            self._call(self._stop(key))

    def keys(self):
        return set(self._servers)

    def close(self):
        if self._loop is None:
            return
        for key in list(self._servers):
            self.stop(key)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._loop = None

    async def _start(self, key, sock, protocol, target):
        await self._stop(key)
        server = _TcpServer(sock, target) if protocol == "tcp" else _UdpServer(sock, target)
        await server.start()
        self._servers[key] = server
        log.info("userland proxy started", extra={"binding": "%s/%s" % (protocol, _addr(sock)),
                                                  "target": "%s:%d" % target})

    async def _stop(self, key):
        server = self._servers.pop(key, None)
        if server is not None:
            await server.stop()


def _addr(sock):
    try:
        host, port = sock.getsockname()[:2]
        return "[%s]:%d" % (host, port)
    except OSError:
        return "?"


class _TcpServer:
    def __init__(self, sock, target):
        self.sock, self.target = sock, target
        self.server = None
        self.conns = set()    # writers of open connections, both sides

    async def start(self):
        self.server = await asyncio.start_server(self._handle, sock=self.sock, limit=CHUNK,
                                                 backlog=socket.SOMAXCONN)

    async def stop(self):
        self.server.close()
        for w in list(self.conns):
            w.transport.abort()
        self.conns.clear()

    async def _handle(self, client_r, client_w):
        self.conns.add(client_w)
        backend_w = None
        try:
            try:
                backend_r, backend_w = await asyncio.wait_for(
                    asyncio.open_connection(*self.target, limit=CHUNK), CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError) as exc:
                log.info("cannot reach the container: %s", exc,
                         extra={"target": "%s:%d" % self.target})
                return
            self.conns.add(backend_w)
            await asyncio.gather(_pipe(client_r, client_w, backend_w),
                                 _pipe(backend_r, backend_w, client_w))
        finally:
            for w in (client_w, backend_w):
                if w is not None:
                    self.conns.discard(w)
                    w.close()


async def _pipe(reader, own_writer, writer):
    """Copy `reader` to `writer` until EOF, then half-close `writer`; on an error (a reset),
    abort both connections (own_writer is the reader's)."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.transport.abort()
        own_writer.transport.abort()


class _UdpServer:
    def __init__(self, sock, target):
        self.sock, self.target = sock, target
        self.front = None
        self.clients = {}     # client address -> _UdpClient
        self.sweeper = None

    async def start(self):
        loop = asyncio.get_running_loop()
        self.front, _ = await loop.create_datagram_endpoint(lambda: _Front(self), sock=self.sock)
        self.sweeper = loop.call_later(UDP_IDLE / 3, self._sweep)

    async def stop(self):
        self.sweeper.cancel()
        self.front.close()
        for c in list(self.clients.values()):
            c.close()
        self.clients.clear()

    def _sweep(self):
        now = time.monotonic()
        for addr, c in list(self.clients.items()):
            if now - c.last > UDP_IDLE:
                c.close()
                del self.clients[addr]
        self.sweeper = asyncio.get_running_loop().call_later(UDP_IDLE / 3, self._sweep)

    def received(self, data, addr):
        c = self.clients.get(addr)
        if c is None:
            c = self.clients[addr] = _UdpClient(self, addr)
            asyncio.get_running_loop().create_task(c.connect())
        c.send(data)

    def reply(self, data, addr):
        if not self.front.is_closing():
            self.front.sendto(data, addr)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, server):
        self.server = server

    def datagram_received(self, data, addr):
        self.server.received(data, addr)

    def error_received(self, exc):
        pass  # ICMP errors for one client are no reason to stop


class _UdpClient(asyncio.DatagramProtocol):
    """One client of a UDP binding: a socket connected to the container."""

    def __init__(self, server, addr):
        self.server, self.addr = server, addr
        self.transport = None
        self.pending = []
        self.closed = False
        self.last = time.monotonic()

    async def connect(self):
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.server.target[0] else socket.AF_INET
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: self, remote_addr=self.server.target, family=family)
        except OSError as exc:
            log.info("cannot reach the container: %s", exc)
            self.closed = True
            self.server.clients.pop(self.addr, None)
            return
        if self.closed:
            transport.close()
            return
        for data in self.pending:
            transport.sendto(data)
        self.pending = []

    def connection_made(self, transport):
        self.transport = transport

    def send(self, data):
        self.last = time.monotonic()
        if self.transport is not None:
            self.transport.sendto(data)
        elif len(self.pending) < UDP_PENDING:
            self.pending.append(data)

    def datagram_received(self, data, addr):
        self.last = time.monotonic()
        self.server.reply(data, self.addr)

    def error_received(self, exc):
        pass  # the container's port is closed for now: the client may retry

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.close()
