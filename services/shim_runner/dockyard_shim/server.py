"""Thin gRPC adapter over tasks.TaskService (decode, call, encode)."""

import json
import logging
import threading

from dockyard_api.shim.v1 import shim_pb2, shim_pb2_grpc
from dockyard_api.types.v1 import types_pb2
from dockyard_common import containerfs, errors
from dockyard_common.containerfs import ChunkReader

from .fsops import TaskFS

log = logging.getLogger(__name__)
EMPTY = types_pb2.Empty()


def _state(d):
    return shim_pb2.TaskState(**d)


class ShimServicer(shim_pb2_grpc.ShimServicer):
    def __init__(self, core, fs=None):
        self.core = core
        self.fs = fs or TaskFS(core)     # the archive API on a task's rootfs

    def Create(self, req, context):
        return _state(self.core.create(req.id, req.spec_json, list(req.rootfs), req.terminal,
                                       req.stdin, req.runtime))

    def Start(self, req, context):
        return _state(self.core.start(req.id, req.exec_id))

    def State(self, req, context):
        return _state(self.core.state(req.id, req.exec_id))

    def Kill(self, req, context):
        self.core.kill(req.id, req.exec_id, req.signal, req.all)
        return EMPTY

    def Wait(self, req, context):
        return _state(self.core.wait(req.id, req.exec_id, context.is_active))

    def Delete(self, req, context):
        return _state(self.core.delete(req.id, req.exec_id))

    def Exec(self, req, context):
        self.core.exec(req.id, req.exec_id, req.process_json, req.terminal, req.stdin,
                       defer=context.add_callback)
        return EMPTY

    def Pids(self, req, context):
        return shim_pb2.PidsResponse(pids=self.core.pids(req.id))

    def Update(self, req, context):
        self.core.update(req.id, req.resources_json)
        return EMPTY

    def Pause(self, req, context):
        self.core.pause(req.id)
        return EMPTY

    def Resume(self, req, context):
        self.core.resume(req.id)
        return EMPTY

    def ResizePty(self, req, context):
        self.core.resize(req.id, req.exec_id, req.width, req.height)
        return EMPTY

    def CloseStdin(self, req, context):
        self.core.close_stdin(req.id, req.exec_id)
        return EMPTY

    def Attach(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "open":
            raise errors.InvalidArgument("the first attach message must be open")
        o = first.open
        sub = self.core.attach(o.id, o.exec_id, o.stdin, o.stdout, o.stderr)
        if sub is None:
            return
        context.add_callback(sub.cancel)
        # Tell the caller at once that the attach is in place (it starts the task only then).
        context.send_initial_metadata(())

        def pump():
            # Client -> stdin. The client ending its half of the stream does not close stdin:
            # that takes an explicit close_stdin (Docker closes stdin only for StdinOnce).
            try:
                for msg in request_iterator:
                    part = msg.WhichOneof("part")
                    if part == "data":
                        sub.write(msg.data)
                    elif part == "close_stdin" and msg.close_stdin:
                        sub.close_stdin()
            except Exception as exc:  # the call ended under us
                log.debug("attach input ended: %s", exc)

        threading.Thread(target=pump, name="attach-in", daemon=True).start()
        try:
            for stream, data in sub:
                yield shim_pb2.AttachOutput(stream=stream, data=data)
        finally:
            sub.cancel()
        self._settle_exit(o.id, o.exec_id)

    def _settle_exit(self, cid, exec_id):
        """The output ended: the monitor writes its exit file before it closes the attach socket,
        so State records the exit now instead of when the pidfd watcher sees the monitor go (the
        caller of `exec` waits for that exit event)."""
        try:
            self.core.state(cid, exec_id)
        except errors.DockyardError:
            pass

    def Logs(self, req, context):
        stdout, stderr = req.stdout, req.stderr
        if not stdout and not stderr:
            stdout = stderr = True
        for e in self.core.logs(req.id, req.follow, stdout, stderr, req.since_ns, req.until_ns,
                                req.tail, context.is_active):
            yield shim_pb2.LogEntry(stream=e.stream, data=e.data, time_ns=e.time_ns)

    def Events(self, req, context):
        q = self.core.subscribe()
        context.add_callback(lambda: self.core.unsubscribe(q))
        try:
            while True:
                ev = q.get()
                if ev is None:
                    return
                yield shim_pb2.TaskEvent(**ev)
        finally:
            self.core.unsubscribe(q)

    def List(self, req, context):
        return shim_pb2.ListTasksResponse(tasks=[_state(s) for s in self.core.list()])

    def Stats(self, req, context):
        return shim_pb2.StatsResponse(stats_json=json.dumps(self.core.stats(req.id)).encode())

    def StatPath(self, req, context):
        return types_pb2.PathStat(**self.fs.stat_path(req.id, req.path))

    def ArchiveGet(self, req, context):
        _, chunks = self.fs.archive_get(req.id, req.path)
        try:
            for data in chunks:
                yield types_pb2.DataChunk(data=data)
        finally:
            chunks.close()

    def ArchivePut(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            raise errors.InvalidArgument("archive put: the first message must carry the header")
        h = first.header
        data = ChunkReader(m.data for m in request_iterator if m.WhichOneof("part") == "data")
        self.fs.archive_put(h.key, h.path, data, no_overwrite_dir_non_dir=h.no_overwrite_dir_non_dir,
                            mounts=containerfs.mount_points(h.mounts), readonly_rootfs=h.readonly_rootfs,
                            owner_user=h.user if h.copy_uid_gid else None)
        return EMPTY
