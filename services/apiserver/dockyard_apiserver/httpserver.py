"""Serving the Flask app the way dockerd does: HTTP/1.1 on a unix socket (and optionally TCP).

werkzeug.serving's threaded server accepts the connections; our request handler writes the
responses itself because the Docker API needs two things werkzeug's does not give:
- streamed responses (no Content-Length) go out chunked, one flushed chunk per item, so that
  clients see events, logs and progress as they happen (docker-py treats a non-chunked stream
  as one blob);
- hijacking (hijack.py): a view can take over the socket and its buffered reader, after which
  the server writes nothing, never reads from, reuses nor closes that connection.
Every connection is closed after one response (as werkzeug does): clients reconnect cheaply.
"""

import http
import json
import logging
import os
import select
import socket
import threading

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from . import hijack

log = logging.getLogger(__name__)

CLIENT_GONE_KEY = "dockyard.client_gone"


class RequestHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def make_environ(self):
        environ = super().make_environ()
        environ["dockyard.socket"] = self.connection
        environ["dockyard.rfile"] = self.rfile
        environ[hijack.ENVIRON_KEY] = hijack.Slot(self.connection, self.rfile)
        environ[CLIENT_GONE_KEY] = lambda: client_gone(self.connection)
        return environ

    def run_wsgi(self):
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        self.close_connection = True
        state = {"status": None, "headers": None, "sent": False, "chunked": False}

        def send_headers():
            code_str, _, msg = state["status"].partition(" ")
            code = int(code_str)
            keys = set()
            self.send_response(code, msg)
            for key, value in state["headers"]:
                self.send_header(key, value)
                keys.add(key.lower())
            if not ("content-length" in keys or environ["REQUEST_METHOD"] == "HEAD"
                    or 100 <= code < 200 or code in (204, 304)):
                state["chunked"] = True
                self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            state["sent"] = True

        def write(data):
            if not state["sent"]:
                send_headers()
            if data:
                if state["chunked"]:
                    data = b"%x\r\n%s\r\n" % (len(data), data)
                self.wfile.write(data)

        def start_response(status, headers, exc_info=None):
            if exc_info and state["sent"]:
                raise exc_info[1].with_traceback(exc_info[2])
            state["status"], state["headers"] = status, headers
            return write

        app_iter = None
        try:
            app_iter = self.server.app(environ, start_response)
            if hijack.is_hijacked(environ):
                self._hijacked()
                return
            for data in app_iter:
                if hijack.is_hijacked(environ):
                    self._hijacked()
                    return
                write(data)
            if not state["sent"]:
                write(b"")
            if state["chunked"]:
                self.wfile.write(b"0\r\n\r\n")
            self._drain()
        except (ConnectionError, socket.timeout, BrokenPipeError) as exc:
            log.debug("client went away: %s", exc)
        except Exception:
            log.exception("error while serving %s %s", self.command, self.path)
            if not state["sent"] and not hijack.is_hijacked(environ):
                body = b'{"message":"internal server error"}\n'
                state["status"] = "500 Internal Server Error"
                state["headers"] = [("Content-Type", "application/json"),
                                    ("Content-Length", str(len(body)))]
                try:
                    write(body)
                except OSError:
                    pass
        finally:
            if app_iter is not None and hasattr(app_iter, "close"):
                try:
                    app_iter.close()
                except Exception:
                    log.exception("closing the response failed")
            self.log_request(state["status"].split()[0] if state["status"] else "-")

    def _hijacked(self):
        self.close_connection = True
        self.server.mark_hijacked(self.connection)

    def _drain(self):
        """Read what is left of an unread request body so closing does not reset the
        connection before the client got the response (werkzeug does the same)."""
        total = 0
        try:
            while total < 64 * 1024 * 1024 and select.select([self.connection], [], [], 0.01)[0]:
                data = self.rfile.read1(1 << 20)
                if not data:
                    break
                total += len(data)
        except (OSError, ValueError):
            pass

    def finish(self):
        if self.server.is_hijacked(self.connection):
            return  # the hijacker owns rfile and the socket now
        super().finish()

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (a malformed or over-long request line, too many or too
        long headers) in Docker's JSON shape rather than its HTML page."""
        self.close_connection = True
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
        body = (json.dumps({"message": message or phrase}) + "\n").encode()
        self.send_response(code, phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        log.debug('"%s" %s', getattr(self, "requestline", ""), code)

    def log_message(self, format, *args):
        log.debug(format, *args)


def client_gone(sock):
    """True when the peer closed its end (readable and recv(PEEK) gives EOF)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class Server(ThreadedWSGIServer):
    """werkzeug's threaded server that leaves hijacked connections alone."""

    def __init__(self, host, port, app, ssl_context=None):
        self._hijacked = set()
        self._hijacked_lock = threading.Lock()
        super().__init__(host, port, app, handler=RequestHandler, ssl_context=ssl_context)

    def mark_hijacked(self, sock):
        with self._hijacked_lock:
            self._hijacked.add(id(sock))

    def is_hijacked(self, sock):
        with self._hijacked_lock:
            return id(sock) in self._hijacked

    def shutdown_request(self, request):
        with self._hijacked_lock:
            if id(request) in self._hijacked:
                self._hijacked.discard(id(request))
                return
        super().shutdown_request(request)


def serve_unix(app, path, mode=0o660):
    """A Server bound to the unix socket `path` (a stale socket file is removed)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    server = Server("unix://" + path, 0, app)  # werkzeug unlinks a leftover socket
    os.chmod(path, mode)
    return server


def serve_tcp(app, address, tls=None):
    """A Server on "host:port", TLS-protected when `tls` (a TLSConfig) is given."""
    host, _, port = address.rpartition(":")
    return Server(host or "127.0.0.1", int(port), app,
                  ssl_context=tls.server_context() if tls else None)


class TLSConfig:
    """dockerd's --tlscert/--tlskey, and --tlscacert with --tlsverify: with a CA, every client
    must present a certificate signed by it."""

    def __init__(self, cert, key, ca=None):
        self.cert, self.key, self.ca = cert, key, ca

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        cert, key = env.get("DOCKYARD_TLS_CERT"), env.get("DOCKYARD_TLS_KEY")
        if not (cert and key):
            return None
        return cls(cert, key, env.get("DOCKYARD_TLS_CACERT") or None)

    def server_context(self):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        if self.ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.ca)
        return ctx


class Servers:
    """Runs several servers (unix socket, TCP) until stop()."""

    def __init__(self, servers):
        self.servers = list(servers)
        self._threads = []

    def start(self):
        for srv in self.servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                                 name="http-%s" % srv.host, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self):
        for srv in self.servers:
            srv.shutdown()
        for t in self._threads:
            t.join(timeout=5)
        for srv in self.servers:
            if srv.address_family == socket.AF_UNIX:
                try:
                    os.unlink(srv.server_address)
                except OSError:
                    pass


__all__ = ["RequestHandler", "Server", "Servers", "TLSConfig", "serve_unix", "serve_tcp",
           "client_gone"]
