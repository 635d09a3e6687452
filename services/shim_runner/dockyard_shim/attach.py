"""One connection per process to the monitor's attach socket, fanned out to many subscribers.

conmon's attach socket is SOCK_SEQPACKET: each output packet starts with one byte naming the pipe
(2 = stdout, 3 = stderr); stdin is written raw. When a connection reaches EOF conmon closes the
container's stdin, so shim-runner keeps a single connection per process (opened on the first
attach) and half-closes it only when stdin must close; an attach without stdin ending is harmless.
"""

import logging
import queue
import socket
import threading

log = logging.getLogger(__name__)

CONMON_STDOUT, CONMON_STDERR = 2, 3
STDOUT, STDERR = 1, 2
# conmon reads at most CONN_SOCK_BUF_SIZE-1 bytes per packet: never send bigger packets.
MAX_STDIN_PACKET = 4096
_END = object()


def decode_packet(packet, terminal=False):
    """(stream, data) from one conmon packet; stream is 1 (stdout) or 2 (stderr)."""
    if not packet:
        return None
    kind, data = packet[0], packet[1:]
    if terminal or kind != CONMON_STDERR:
        return STDOUT, data
    return STDERR, data


class Subscription:
    def __init__(self, hub, stdout, stderr, stdin):
        self.hub = hub
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self.queue = queue.Queue()

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is _END:
                return
            yield item

    def write(self, data):
        if self.stdin:
            self.hub.write(data)

    def close_stdin(self):
        if self.stdin:
            self.hub.close_stdin()

    def cancel(self):
        """Stop the output iterator (client went away)."""
        self.hub.unsubscribe(self)
        self.queue.put(_END)


class AttachHub:
    """Reads the monitor's output packets and hands them to every current subscriber."""

    def __init__(self, sock, terminal=False, name=""):
        self.sock = sock
        self.terminal = terminal
        self.closed = threading.Event()
        self._subs = []
        self._lock = threading.Lock()
        self._wlock = threading.Lock()
        self._stdin_closed = False
        self._thread = threading.Thread(target=self._run, name="attach-" + name[:12], daemon=True)
        self._thread.start()

    def subscribe(self, stdout=True, stderr=True, stdin=False):
        sub = Subscription(self, stdout, stderr, stdin)
        with self._lock:
            if self.closed.is_set():
                sub.queue.put(_END)
            else:
                self._subs.append(sub)
        return sub

    def unsubscribe(self, sub):
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def write(self, data):
        with self._wlock:
            if self._stdin_closed or self.closed.is_set():
                return
            try:
                for i in range(0, len(data), MAX_STDIN_PACKET):
                    self.sock.send(data[i:i + MAX_STDIN_PACKET])
            except OSError as exc:
                log.debug("stdin write failed: %s", exc)

    def close_stdin(self):
        with self._wlock:
            if self._stdin_closed:
                return
            self._stdin_closed = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _run(self):
        try:
            while True:
                try:
                    packet = self.sock.recv(65536)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not packet:
                    break
                item = decode_packet(packet, self.terminal)
                if item is None or not item[1]:
                    continue
                with self._lock:
                    subs = list(self._subs)
                for sub in subs:
                    if (item[0] == STDOUT and sub.stdout) or (item[0] == STDERR and sub.stderr):
                        sub.queue.put(item)
        finally:
            with self._lock:
                self.closed.set()
                subs, self._subs = self._subs, []
            for sub in subs:
                sub.queue.put(_END)
            try:
                self.sock.close()
            except OSError:
                pass

    def wait_closed(self, timeout):
        return self.closed.wait(timeout)
