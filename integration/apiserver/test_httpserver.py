"""The HTTP server on a real unix socket: chunked streams, chunked uploads, hijack handshake."""

import json
import os
import socket
import stat
import threading
import time


def _connect(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def _read_headers(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(1)
        assert chunk, "connection closed before the headers ended: %r" % buf
        buf += chunk
    return buf


def _read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "EOF after %r" % buf
        buf += chunk
    return buf


def _read_all(s):
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_socket_mode(fake_server):
    assert stat.S_IMODE(os.stat(fake_server.path).st_mode) == 0o660


def test_ping_raw(fake_server):
    s = _connect(fake_server.path)
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
    resp = _read_all(s)
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Api-Version: 1.45" in head and b"Content-Length: 2" in head
    assert body == b"OK"


def test_hijack_upgrade_handshake_and_buffered_bytes(fake_server):
    s = _connect(fake_server.path)
    # "early" arrives in the same segment as the headers: it sits in the server's buffered
    # reader, and must reach the hijacker anyway.
    s.sendall(b"POST /v1.41/test/hijack HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\n"
              b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly")
    head = _read_headers(s)
    assert head == (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    assert _read_exact(s, 5) == b"EARLY"
    s.sendall(b"more")
    assert _read_exact(s, 4) == b"MORE"
    s.shutdown(socket.SHUT_WR)         # half-close: output must still flow
    assert _read_all(s) == b"EOF-SEEN\n"
    s.close()


def test_hijack_without_upgrade_is_200(fake_server):
    s = _connect(fake_server.path)
    s.sendall(b"POST /test/hijack?inline=1 HTTP/1.1\r\nHost: docker\r\n\r\n")
    head = _read_headers(s)
    assert head == b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
    s.sendall(b"abc")
    assert _read_exact(s, 3) == b"ABC"
    s.shutdown(socket.SHUT_WR)
    assert _read_all(s) == b"EOF-SEEN\n"   # nothing from the HTTP server after the view returned


def test_hijack_route_errors_before_takeover_are_json(fake_server):
    s = _connect(fake_server.path)
    s.sendall(b"POST /test/hijack?fail=abc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
              b"Upgrade: tcp\r\n\r\n")
    resp = _read_all(s)
    assert resp.startswith(b"HTTP/1.1 404")
    assert json.loads(resp.partition(b"\r\n\r\n")[2]) == {"message": "No such container: abc"}


def test_many_hijacks_then_plain_requests(fake_server):
    for _ in range(20):
        s = _connect(fake_server.path)
        s.sendall(b"POST /test/hijack HTTP/1.1\r\nHost: d\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\nx")
        _read_headers(s)
        assert _read_exact(s, 1) == b"X"
        s.close()
    s = _connect(fake_server.path)
    s.sendall(b"GET /version HTTP/1.1\r\nHost: d\r\n\r\n")
    assert _read_all(s).startswith(b"HTTP/1.1 200")


def _read_chunk(s, buf):
    """One HTTP chunk from socket s (buf holds bytes already read). Returns (data, rest)."""
    while b"\r\n" not in buf:
        buf += s.recv(4096)
    size_line, _, buf = buf.partition(b"\r\n")
    size = int(size_line, 16)
    while len(buf) < size + 2:
        buf += s.recv(4096)
    return buf[:size], buf[size + 2:]


def test_events_headers_flush_at_once_and_chunks_stream(fake_server):
    s = _connect(fake_server.path)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: docker\r\n\r\n")
    head = _read_headers(s)          # before any event exists
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Type: application/json" in head
    fake_server.daemon.events.emit("container", "start", "c" * 64, {"name": "x", "image": "busybox"})
    data, rest = _read_chunk(s, b"")
    ev = json.loads(data)
    assert ev["Action"] == "start" and ev["Actor"]["Attributes"]["name"] == "x"
    fake_server.daemon.events.emit("container", "die", "c" * 64, {"name": "x", "exitCode": "3"})
    data, rest = _read_chunk(s, rest)
    assert json.loads(data)["Action"] == "die"
    s.close()


def test_events_subscriber_goes_away(fake_server):
    bus = fake_server.daemon.events
    before = set(map(id, bus._subs))
    s = _connect(fake_server.path)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: docker\r\n\r\n")
    _read_headers(s)
    mine = set(map(id, bus._subs)) - before
    assert len(mine) == 1
    s.close()
    deadline = time.time() + 5
    while mine & set(map(id, bus._subs)) and time.time() < deadline:
        time.sleep(0.1)
    assert not mine & set(map(id, bus._subs))


def test_chunked_upload_reaches_load(fake_server):
    payload = os.urandom(300_000)
    s = _connect(fake_server.path)
    s.sendall(b"POST /images/load?quiet=1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(payload), 65536):
        part = payload[i:i + 65536]
        s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    s.sendall(b"0\r\n\r\n")
    resp = _read_all(s)
    assert resp.startswith(b"HTTP/1.1 200")
    assert fake_server.daemon.clients.images.loaded[-1] == payload
    assert b"Loaded image: loaded:latest" in resp


def test_concurrent_requests(fake_server):
    results = []

    def worker():
        s = _connect(fake_server.path)
        s.sendall(b"GET /info HTTP/1.1\r\nHost: d\r\n\r\n")
        results.append(_read_all(s).startswith(b"HTTP/1.1 200"))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 20
