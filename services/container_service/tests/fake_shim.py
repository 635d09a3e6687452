"""An in-memory Shim: the same methods and messages as the gRPC client, no processes."""

import itertools
import queue
import threading

from dockyard_api.shim.v1 import shim_pb2
from dockyard_common import errors, ids


class EventStream:
    def __init__(self, shim):
        self.q = queue.Queue()
        self.shim = shim
        self.cancelled = False

    def __iter__(self):
        return self

    def __next__(self):
        item = self.q.get()
        if item is None or self.cancelled:
            raise StopIteration
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self):
        self.cancelled = True
        self.q.put(None)


class FakeShim:
    def __init__(self):
        self.tasks = {}            # (id, exec_id) -> TaskState
        self.calls = []
        self.fail_create = None    # message of an error Create raises
        self.fail_start = None
        self.down = False          # raise Unavailable on every call
        self.streams = []
        self.execs = {}
        self._pids = itertools.count(1000)
        self._lock = threading.Lock()

    def _check(self, name, req=None):
        if self.down:
            raise errors.Unavailable("connection refused")
        self.calls.append((name, getattr(req, "id", None), getattr(req, "exec_id", "")))

    def _task(self, cid, exec_id=""):
        try:
            return self.tasks[(cid, exec_id)]
        except KeyError:
            raise errors.NotFound("task %s not found" % cid) from None

    def Create(self, req):
        self._check("Create", req)
        if (req.id, "") in self.tasks:
            raise errors.Conflict("task %s exists" % req.id)
        if self.fail_create:
            raise errors.Internal(self.fail_create)
        ts = shim_pb2.TaskState(id=req.id, status="created", pid=next(self._pids), terminal=req.terminal)
        self.tasks[(req.id, "")] = ts
        self.last_create = req
        return ts

    def Start(self, req):
        self._check("Start", req)
        if self.fail_start:
            raise errors.Internal(self.fail_start)
        if req.exec_id:
            if (req.id, req.exec_id) not in self.execs:
                raise errors.NotFound("no exec %s" % req.exec_id)
            ts = shim_pb2.TaskState(id=req.id, exec_id=req.exec_id, status="running", pid=next(self._pids))
            self.tasks[(req.id, req.exec_id)] = ts
            return ts
        ts = self._task(req.id)
        ts.status = "running"
        ts.started_at = ids.now_rfc3339()
        return ts

    def State(self, req):
        self._check("State", req)
        return self._task(req.id, req.exec_id)

    def Kill(self, req):
        self._check("Kill", req)
        ts = self._task(req.id, req.exec_id)
        if ts.status not in ("running", "paused"):
            raise errors.NotFound("process already finished")
        self.killed = req.signal

    def Delete(self, req):
        self._check("Delete", req)
        ts = self._task(req.id, req.exec_id)
        if ts.status in ("running", "paused"):
            raise errors.FailedPrecondition("task %s is running" % req.id)
        del self.tasks[(req.id, req.exec_id)]
        return ts

    def Exec(self, req):
        self._check("Exec", req)
        self.execs[(req.id, req.exec_id)] = req

    def Pids(self, req):
        self._check("Pids", req)
        return shim_pb2.PidsResponse(pids=[self._task(req.id).pid])

    def Pause(self, req):
        self._check("Pause", req)
        self._task(req.id).status = "paused"

    def Update(self, req):
        self._check("Update", req)
        self._task(req.id)
        self.updates = getattr(self, "updates", []) + [(req.id, bytes(req.resources_json))]

    def Resume(self, req):
        self._check("Resume", req)
        self._task(req.id).status = "running"

    def Stats(self, req):
        self._check("Stats", req)
        return shim_pb2.StatsResponse(stats_json=b'{"pids_stats": {"current": 1}}')

    def List(self, req):
        self._check("List")
        return shim_pb2.ListTasksResponse(tasks=list(self.tasks.values()))

    def Events(self, req):
        if self.down:
            stream = EventStream(self)
            stream.q.put(errors.Unavailable("connection refused"))
            return stream
        stream = EventStream(self)
        self.streams.append(stream)
        return stream

    # test controls -----------------------------------------------------------------
    def exit(self, cid, code, exec_id="", emit=True, oom=False):
        """The process ends: the task is stopped and (optionally) an exit event goes out."""
        ts = self._task(cid, exec_id)
        ts.status = "stopped"
        ts.exit_status = code
        ts.exited_at = ids.now_rfc3339()
        ts.oom_killed = oom
        ev = shim_pb2.TaskEvent(type="exec_exit" if exec_id else "exit", id=cid, exec_id=exec_id,
                                pid=ts.pid, exit_status=code, exited_at=ts.exited_at)
        if emit:
            for s in self.streams:
                s.q.put(ev)
        return ev

    def drop_streams(self):
        for s in self.streams:
            s.q.put(errors.Unavailable("shim restarting"))
        self.streams = []
