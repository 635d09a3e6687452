"""Attach hubs: hijacked client connections joined to a task's stdio (ARCHITECTURE.md section 7).

`docker run` attaches before the container is started, when no task exists yet: the session is
parked in the container's hub and connected (Shim.Attach) by `task_created`, which start() calls
between Tasks.Create and Tasks.Start, so no output is missed.

Per session two threads: the request thread pumps shim -> client (stdcopy frames without a TTY,
raw bytes with one), a reader thread pumps client -> shim stdin, watches for the detach keys and,
on the client's half-close, closes the container's stdin (StdinOnce) while output keeps flowing.
"""

import logging
import socket
import threading
import time

import grpc

from dockyard_api.shim.v1 import shim_pb2
from dockyard_common import errors, grpcutil, stdcopy

log = logging.getLogger(__name__)

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q
# How long to wait for shim-runner to confirm an attach (initial metadata) before starting.
CONNECT_TIMEOUT = 1.0
# How long a session waits for a restarted shim-runner before it gives up and closes.
RECONNECT_FOR = 30.0
_END = object()


def parse_detach_keys(text):
    """"ctrl-p,ctrl-q" -> b"\\x10\\x11" (moby term.ToBytes)."""
    if not text:
        return DEFAULT_DETACH_KEYS
    out = bytearray()
    for key in text.split(","):
        key = key.strip()
        low = key.lower()
        if low.startswith("ctrl-") and len(key) == 6:
            ch = low[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
            elif ch in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[ch])
            else:
                raise errors.InvalidArgument("Invalid escape keys (%s) provided" % text)
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise errors.InvalidArgument("Invalid escape keys (%s) provided" % text)
    return bytes(out)


class DetachScanner:
    """Finds the detach sequence in stdin; holds back a partial match."""

    def __init__(self, keys):
        self.keys = keys
        self.held = b""

    def feed(self, data):
        """(bytes to forward, detached?)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            b = bytes([b])
            if b == self.keys[len(self.held):len(self.held) + 1]:
                self.held += b
                if self.held == self.keys:
                    return bytes(out), True
                continue
            out += self.held
            self.held = b""
            if b == self.keys[:1]:
                self.held = b
            else:
                out += b
        return bytes(out), False


class Session:
    """One hijacked connection attached to a container's (or an exec's) stdio."""

    def __init__(self, shim, conn, cid, exec_id="", stdin=False, stdout=True, stderr=True,
                 tty=False, stdin_once=True, detach_keys=DEFAULT_DETACH_KEYS):
        self.shim = shim
        self.conn = conn
        self.cid = cid
        self.exec_id = exec_id
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.tty = tty
        self.stdin_once = stdin_once
        self.scanner = DetachScanner(detach_keys)
        self.inputs = _Inputs()           # AttachInput messages for the shim (after open)
        self._generation = 0              # bumped by reset(): a stale call's requests stop
        self.connected = threading.Event()
        self.finished = threading.Event()
        self.detached = False
        self.call = None
        self.on_drained = None            # called once output ended, before the connection closes
        self._wlock = threading.Lock()

    # ------------------------------------------------------------------ client -> shim
    def start_reader(self):
        threading.Thread(target=self._read_client, name="attach-in-" + self.cid[:12], daemon=True).start()

    def _read_client(self):
        rfile = self.conn.rfile
        while not self.finished.is_set():
            try:
                data = rfile.read1(65536)
            except (OSError, ValueError):
                data = b""
            if not data:
                # Half-close (the CLI always sends one once its input ends) or gone.
                if self.stdin and self.stdin_once:
                    self.inputs.put(shim_pb2.AttachInput(close_stdin=True))
                return
            data, detached = self.scanner.feed(data)
            if data and self.stdin:
                self.inputs.put(shim_pb2.AttachInput(data=data))
            if detached:
                self.detached = True
                self.end()
                return

    def _requests(self, generation):
        yield shim_pb2.AttachInput(open=shim_pb2.AttachOpen(
            id=self.cid, exec_id=self.exec_id, stdin=self.stdin, stdout=self.stdout, stderr=self.stderr))
        while True:
            item = self.inputs.take(lambda: generation != self._generation)
            if item is _END or item is None:
                return
            yield item

    # ------------------------------------------------------------------ shim -> client
    def connect(self):
        """Open Shim.Attach and wait (briefly) until shim-runner has subscribed."""
        if self.finished.is_set() or self.call is not None:
            return
        try:
            # Waits (bounded) for a restarting shim-runner; fails when it stays away.
            self.call = self.shim.Attach(self._requests(self._generation))
        except errors.Unavailable as exc:
            log.info("attach to %s: shim-runner unavailable: %s", self.cid[:12], exc)
            self.connected.set()
            return
        waiter = threading.Thread(target=self._await_metadata, daemon=True)
        waiter.start()
        waiter.join(CONNECT_TIMEOUT)
        self.connected.set()

    def _await_metadata(self):
        try:
            self.call._it.initial_metadata()
        except Exception:
            pass

    def pump_output(self):
        """Copy the shim's output to the client until the process is done (or the client goes)."""
        try:
            while not self._copy_output():
                # shim-runner went away (restart): the container keeps running, so attach again.
                if self.finished.is_set() or not self._reconnect():
                    break
        finally:
            if self.on_drained is not None and not self.finished.is_set():
                try:
                    self.on_drained()
                except Exception:
                    log.exception("attach: on_drained failed")
            self.end()

    def _copy_output(self):
        """False when the stream broke because shim-runner is unavailable."""
        if self.call is None:
            return False
        try:
            for out in self.call:
                if not out.data:
                    continue
                payload = out.data if self.tty else stdcopy.frame(out.stream or stdcopy.STDOUT, out.data)
                try:
                    self.write(payload)
                except OSError:
                    return True
        except errors.Unavailable as exc:
            if not self.finished.is_set():
                log.info("attach to %s lost shim-runner: %s", self.cid[:12], exc)
                return False
        except errors.DockyardError as exc:
            if not self.finished.is_set():
                log.debug("attach stream ended: %s", exc)
        return True

    def _reconnect(self, wait=None):
        """Open Shim.Attach again once shim-runner is back (live restore); False to give up."""
        deadline = time.monotonic() + (RECONNECT_FOR if wait is None else wait)
        while not self.finished.is_set() and time.monotonic() < deadline:
            self.reset()
            self.connect()
            code = self._call_code()
            if self.call is not None:       # else still unavailable: try again
                if code is None:
                    log.info("attach to %s: attached again", self.cid[:12])
                    return True             # subscribed (or still opening): pump again
                if code != grpc.StatusCode.UNAVAILABLE:
                    log.info("attach to %s ends: %s", self.cid[:12], code)
                    return False            # e.g. the task is gone: it exited meanwhile
            self.finished.wait(0.2)
        return False

    def _call_code(self):
        it = getattr(self.call, "_it", None)
        try:
            return it.code() if it is not None and it.done() else None
        except Exception:
            return None

    def failed_at_once(self):
        """True when Shim.Attach already ended with an error (e.g. the process is unknown yet)."""
        it = getattr(self.call, "_it", None)
        try:
            return it is not None and it.done() and it.code() is not None and it.code().value[0] != 0
        except Exception:
            return False

    def reset(self):
        """Forget a failed call so connect() can try again."""
        self.call = None
        self._generation += 1
        self.inputs.wake()
        self.connected.clear()

    def write(self, payload):
        with self._wlock:
            self.conn.sendall(payload)

    def end(self):
        if self.finished.is_set():
            return
        self.finished.set()
        self.inputs.put(_END)   # before the reader wakes: a close_stdin it queues is not sent
        # Shut the socket before cancelling the call: the client sees the end at once, and that
        # wakes our reader thread, whose pending read would otherwise hold the buffered
        # reader's lock and block its close().
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connected.set()
        grpcutil.cancel_quietly(self.call)
        self.conn.close()


class _Inputs:
    """A FIFO whose consumer can be retired (stale) without losing the items it did not take."""

    def __init__(self):
        self._items = []
        self._cond = threading.Condition()

    def put(self, item):
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def wake(self):
        with self._cond:
            self._cond.notify_all()

    def take(self, stale):
        """The next item, or None once stale() is true (the item stays queued)."""
        with self._cond:
            while True:
                if stale():
                    return None
                if self._items:
                    item = self._items[0]
                    if item is not _END:
                        self._items.pop(0)
                    return item
                self._cond.wait()


class _Hub:
    def __init__(self):
        self.parked = []
        self.live = False     # a task exists: new sessions connect at once


# After a process exits, how long its sessions may still drain output before we close them
# (a safety net: shim-runner normally ends the stream itself).
EXIT_DRAIN = 1.0


class AttachHubs:
    def __init__(self, daemon):
        self.daemon = daemon
        self._lock = threading.Lock()
        self._hubs = {}
        self._active = {}     # (container id, exec id) -> set of connected sessions

    def track(self, session):
        with self._lock:
            self._active.setdefault((session.cid, session.exec_id), set()).add(session)

    def untrack(self, session):
        with self._lock:
            key = (session.cid, session.exec_id)
            items = self._active.get(key)
            if items is not None:
                items.discard(session)
                if not items:
                    del self._active[key]

    def process_exited(self, cid, exec_id=""):
        """The process is gone: close its sessions once their output had time to drain."""
        with self._lock:
            items = list(self._active.get((cid, exec_id)) or ())
        for s in items:
            timer = threading.Timer(EXIT_DRAIN, s.end)
            timer.daemon = True
            timer.start()

    def _hub(self, cid):
        hub = self._hubs.get(cid)
        if hub is None:
            hub = self._hubs[cid] = _Hub()
        return hub

    def session(self, conn, cid, **kwargs):
        return Session(self.daemon.clients.shim, conn, cid, **kwargs)

    def run(self, session, running):
        """Serve one session to its end (blocks the calling thread)."""
        session.start_reader()
        self.track(session)
        with self._lock:
            hub = self._hub(session.cid)
            connect_now = running or hub.live
            if not connect_now:
                hub.parked.append(session)
        try:
            if connect_now:
                session.connect()
            else:
                session.connected.wait()
            if session.call is not None and not session.finished.is_set():
                session.pump_output()
        finally:
            session.end()
            self.untrack(session)
            with self._lock:
                hub = self._hubs.get(session.cid)
                if hub is not None:
                    if session in hub.parked:
                        hub.parked.remove(session)
                    if not hub.parked and not hub.live:
                        self._hubs.pop(session.cid, None)

    def task_created(self, cid):
        """start(): the task exists; connect every parked session before Tasks.Start."""
        with self._lock:
            hub = self._hub(cid)
            hub.live = True
            parked, hub.parked = hub.parked, []
        threads = [threading.Thread(target=s.connect, daemon=True) for s in parked]
        for t in threads:
            t.start()
        for t in threads:
            t.join(CONNECT_TIMEOUT + 1)

    def task_failed(self, cid):
        """start() failed: end the parked sessions (the client gets the error from start)."""
        with self._lock:
            hub = self._hubs.pop(cid, None)
        for s in (hub.parked if hub else []):
            s.end()

    def task_exited(self, cid):
        self.process_exited(cid)
        with self._lock:
            hub = self._hubs.get(cid)
            if hub is not None:
                hub.live = False
                if not hub.parked:
                    self._hubs.pop(cid, None)
