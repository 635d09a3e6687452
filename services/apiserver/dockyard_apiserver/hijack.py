"""Taking over a client connection (attach, exec start), as Go's http.Hijacker.

A view validates the request first (errors are still JSON responses), then:

    conn = hijack.take_over(request.environ)
    conn.send_upgrade(content_type, upgrade=hijack.wants_upgrade(request.environ))
    ... pump conn.rfile (bytes the client sent, buffered ones included) and conn.sendall() ...
    conn.close()
    return hijack.HIJACKED

After take_over() the HTTP server writes nothing more on the connection, never reuses it and
never closes it: the connection belongs to the caller, who may keep using it from other threads
after the view returned, and must close() it. The server (httpserver.py) puts a `Slot` in
environ[ENVIRON_KEY]; tests can put their own Slot there (Flask test client `environ_overrides`).
"""

import socket
import threading

from flask import Response

from dockyard_common import errors

ENVIRON_KEY = "dockyard.hijack"


class _Hijacked(Response):
    """The response a view returns after take_over(): the server ignores it."""


HIJACKED = _Hijacked(status=200)


class HijackedConnection:
    def __init__(self, sock, rfile):
        self.sock = sock
        self.rfile = rfile          # buffered reader: use read1(n) to get what is available
        self._lock = threading.Lock()
        self._closed = False

    def sendall(self, data):
        self.sock.sendall(data)

    def send_upgrade(self, content_type, upgrade, headers=()):
        """Write the handshake: 101 UPGRADED when the client sent `Upgrade: tcp`, else 200 OK."""
        if upgrade:
            lines = ["HTTP/1.1 101 UPGRADED", "Content-Type: " + content_type,
                     "Connection: Upgrade", "Upgrade: tcp"]
        else:
            lines = ["HTTP/1.1 200 OK", "Content-Type: " + content_type]
        lines += ["%s: %s" % (k, v) for k, v in headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def shutdown_write(self):
        """Half-close: tell the client no more output comes (it may still send)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Shut the socket down first: closing rfile blocks while another thread reads from it.
        for closer in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.rfile.close, self.sock.close):
            try:
                closer()
            except (OSError, ValueError):
                pass

    @property
    def closed(self):
        return self._closed


class Slot:
    """Per-request hijack capability, created by the HTTP server for each request."""

    def __init__(self, sock, rfile):
        self._sock = sock
        self._rfile = rfile
        self.taken = False

    def take(self):
        if self.taken:
            raise errors.Internal("connection already hijacked")
        self.taken = True
        return HijackedConnection(self._sock, self._rfile)


def can_hijack(environ):
    return isinstance(environ.get(ENVIRON_KEY), Slot)


def take_over(environ):
    slot = environ.get(ENVIRON_KEY)
    if not isinstance(slot, Slot):
        raise errors.NotImplementedYet("this server cannot hijack connections")
    return slot.take()


def is_hijacked(environ):
    slot = environ.get(ENVIRON_KEY)
    return isinstance(slot, Slot) and slot.taken


def wants_upgrade(environ):
    """True when the client asked for `Connection: Upgrade` + `Upgrade: tcp` (the CLI does)."""
    upgrade = environ.get("HTTP_UPGRADE", "").lower()
    return "tcp" in upgrade
