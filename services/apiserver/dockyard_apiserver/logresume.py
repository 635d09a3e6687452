"""`docker logs -f` that outlives a restart of shim-runner (live restore, ARCHITECTURE.md section 6).

The log file is written by the container's monitor, so nothing is lost while shim-runner is down;
only our Shim.Logs stream breaks. We open it again from the timestamp of the last entry sent
(since is inclusive) and skip the entries of that timestamp we already sent.
"""

import logging
import threading
import time

from dockyard_api.shim.v1 import shim_pb2
from dockyard_common import errors

log = logging.getLogger(__name__)


class ResumingLogs:
    """An iterator of LogEntry with `cancel()`, like the stream Shim.Logs returns."""

    def __init__(self, shim, request, reconnect_for=30.0, poll=0.2):
        self.shim = shim
        self.request = request
        self.reconnect_for = reconnect_for
        self.poll = poll
        self._cancelled = threading.Event()
        self._last_ns = None
        self._sent_at_last = 0        # entries sent with time_ns == _last_ns
        self._skip_at_last = 0        # how many of those a reopened stream repeats
        self._it = shim.Logs(request)

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            try:
                entry = next(self._it)
            except errors.Unavailable:
                if not self.request.follow or self._cancelled.is_set():
                    raise
                self._reopen()
                continue
            if self._last_ns is not None and entry.time_ns <= self._last_ns:
                if entry.time_ns < self._last_ns:
                    continue
                if self._skip_at_last > 0:
                    self._skip_at_last -= 1
                    continue
                self._sent_at_last += 1
            else:
                self._last_ns, self._sent_at_last = entry.time_ns, 1
            return entry

    def _reopen(self):
        deadline = time.monotonic() + self.reconnect_for
        req = shim_pb2.LogsRequest()
        req.CopyFrom(self.request)
        if self._last_ns is not None:
            req.since_ns, req.tail = self._last_ns, -1
            self._skip_at_last = self._sent_at_last
        log.info("shim-runner went away during logs -f of %s; reconnecting", req.id[:12])
        while not self._cancelled.is_set():
            try:
                it = self._it = self.shim.Logs(req)
                first = next(it)
            except errors.Unavailable:
                if time.monotonic() > deadline:
                    raise
                self._cancelled.wait(self.poll)
                continue
            self._it = _Prepend(first, it)
            return
        raise StopIteration

    def cancel(self):
        self._cancelled.set()
        try:
            self._it.cancel()
        except Exception:  # noqa: BLE001 - best effort
            pass


class _Prepend:
    def __init__(self, first, it):
        self._first = [first]
        self._it = it

    def __next__(self):
        if self._first:
            return self._first.pop()
        return next(self._it)

    def cancel(self):
        self._it.cancel()
