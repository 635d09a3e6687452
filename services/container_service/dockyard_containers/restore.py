"""Follow the shim-runner: consume Shim.Events, resync on every (re)connect and periodically.

One thread reads the Events stream into a queue (so the stream is always drained), one thread
dispatches the events to the TaskManager, one thread resyncs every few seconds (an exit that was
emitted while the stream was down is still recorded, with the shim's exit code).
"""

import logging
import queue
import threading

from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, grpcutil

log = logging.getLogger(__name__)


class ShimWatcher:
    def __init__(self, tasks, shim, ready_check=None, resync_interval=5.0, max_backoff=5.0):
        self.tasks = tasks
        self.shim = shim
        # Raises Unavailable until the shim has restored its tasks (its List would be partial).
        self.ready_check = ready_check
        self.resync_interval = resync_interval
        self.max_backoff = max_backoff
        self._events = queue.Queue()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._stream = None
        self._threads = []

    def start(self, wait_first=5.0):
        """Start following; returns True when the first resync finished within wait_first."""
        for target, name in ((self._follow, "shim-events"), (self._dispatch, "shim-dispatch"),
                             (self._periodic, "shim-resync")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self._synced.wait(wait_first)

    def stop(self):
        self._stop.set()
        grpcutil.cancel_quietly(self._stream)
        self._events.put(None)

    @property
    def synced(self):
        return self._synced.is_set()

    def _follow(self):
        backoff = 0.1
        while not self._stop.is_set():
            try:
                if self.ready_check:
                    self.ready_check()
                stream = self.shim.Events(types_pb2.Empty())
                self._stream = stream
                # The stream is open before the resync reads the tasks: no exit falls between.
                self.tasks.resync()
                if not self._synced.is_set():
                    log.info("resynced with shim-runner")
                self._synced.set()
                backoff = 0.1
                for ev in stream:
                    self._events.put(ev)
                log.info("shim event stream ended; reconnecting")
            except errors.DockyardError as exc:
                if not self._stop.is_set():
                    log.info("shim-runner not reachable (%s); retrying in %.1fs", exc, backoff)
            except Exception:  # noqa: BLE001 - keep following whatever happens
                log.exception("shim event loop failed")
            self._stream = None
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.max_backoff)

    def _dispatch(self):
        while True:
            ev = self._events.get()
            if ev is None:
                return
            try:
                self.tasks.on_shim_event(ev)
            except Exception:  # noqa: BLE001 - one bad event must not stop the others
                log.exception("handling shim event %s of %s failed", ev.type, ev.id)

    def _periodic(self):
        while not self._stop.wait(self.resync_interval):
            if not self._synced.is_set() or self._stream is None:
                continue
            try:
                self.tasks.resync()
            except errors.DockyardError as exc:
                log.debug("periodic resync failed: %s", exc)
            except Exception:  # noqa: BLE001
                log.exception("periodic resync failed")
