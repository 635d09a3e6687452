"""Fan-out of task events to every Tasks.Events subscriber (each gets its own queue)."""

import queue
import threading
import time

from dockyard_api.tasks.v1 import tasks_pb2


class EventHub:
    def __init__(self, maxsize=1024):
        self._lock = threading.Lock()
        self._subs = []
        self._maxsize = maxsize

    def subscribe(self):
        q = queue.Queue(self._maxsize)
        with self._lock:
            self._subs.append(q)
        return q

    def unsubscribe(self, q):
        with self._lock:
            if q in self._subs:
                self._subs.remove(q)

    def publish(self, type_, cid, exit_code=0, exec_id="", time_ns=None):
        ev = tasks_pb2.TaskEvent(type=type_, id=cid, exec_id=exec_id, exit_code=exit_code,
                                 time_ns=time_ns or time.time_ns())
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            try:
                q.put_nowait(ev)
            except queue.Full:
                # A subscriber that stopped reading must not block exits of every container.
                pass
        return ev
