"""The task lifecycle of containers: Shim calls and the state they leave in each record.

Every change of one container's run state happens under that container's lock, so the events of
one run come out in order ("start" before "die", even for a process that exits at once): the exit
handler waits for Start to have recorded the run before it records the exit.
"""

import json
import logging
import threading

from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, ids

from . import namespaces

log = logging.getLogger(__name__)

SIGKILL = 9
EXIT_DEAD_MONITOR = 255  # containerd cleanupAfterDeadShim
EXEC_START_FAILED = 126


def start_error(exc):
    """dockerd translateContainerdStartErr: (exit code, error to raise) for a failed start."""
    msg = str(exc)
    low = msg.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return 127, errors.InvalidArgument(msg)
    if "permission denied" in low:
        return 126, errors.InvalidArgument(msg)
    return 128, exc


class TaskManager:
    def __init__(self, store, shim, hub):
        self.store = store
        self.shim = shim
        self.hub = hub
        self._locks = {}
        self._locks_guard = threading.Lock()
        self._changed = threading.Condition()
        self._oom = set()

    # helpers --------------------------------------------------------------------
    def lock(self, cid):
        with self._locks_guard:
            return self._locks.setdefault(cid, threading.RLock())

    def forget(self, cid):
        with self._locks_guard:
            self._locks.pop(cid, None)
        self._oom.discard(cid)

    def _save(self, cid, state):
        self.store.set_state(cid, state)
        with self._changed:
            self._changed.notify_all()

    def _shim_state(self, cid, exec_id=""):
        try:
            return self.shim.State(shim_pb2.TaskRef(id=cid, exec_id=exec_id))
        except errors.NotFound:
            return None

    def _shim_delete(self, cid, exec_id=""):
        try:
            self.shim.Delete(shim_pb2.TaskRef(id=cid, exec_id=exec_id))
        except errors.NotFound:
            pass

    def drop_task(self, cid):
        """Shim.Delete of the container's task; a missing task is fine."""
        self._shim_delete(cid)

    def _shim_delete_quietly(self, cid, exec_id=""):
        try:
            self._shim_delete(cid, exec_id)
        except errors.DockyardError as exc:
            log.warning("shim delete failed: %s", exc, extra={"container_id": cid})

    @staticmethod
    def _not_running(cid):
        return errors.Conflict("Container %s is not running" % cid)

    # queries --------------------------------------------------------------------
    def get(self, ref):
        return self.store.get(ref).state

    def wait(self, ref, cancelled=lambda: False, poll=0.5):
        """Block until the container is not running; returns its state."""
        cid = self.store.get(ref).id
        with self._changed:
            while True:
                try:
                    state = self.store.get(cid).state
                except errors.NotFound:
                    raise errors.NotFound("No such container: %s" % ref)
                if not state.running:
                    return state
                if cancelled():
                    raise errors.Unavailable("wait cancelled")
                self._changed.wait(poll)

    def top(self, ref):
        rec = self.store.get(ref)
        if not rec.state.running:
            raise self._not_running(rec.id)
        return list(self.shim.Pids(shim_pb2.TaskRef(id=rec.id)).pids)

    def stats(self, ref):
        rec = self.store.get(ref)
        if not rec.state.running:
            return b""
        return self.shim.Stats(shim_pb2.TaskRef(id=rec.id)).stats_json

    # create / start ------------------------------------------------------------------
    def create(self, ref, restart=False):
        """Create the task; `restart` (a restart by the restart policy) counts in RestartCount."""
        cid = self.store.get(ref).id
        with self.lock(cid):
            rec = self.store.get(cid)
            self._create_locked(rec)
            state = self.store.get(cid).state
            if restart:
                state.restart_count += 1
                self._save(cid, state)
            return state

    def _create_locked(self, rec):
        if rec.state.running:
            raise errors.FailedPrecondition("container %s is running" % rec.id)
        existing = self._shim_state(rec.id)
        if existing is not None:
            if existing.status == "created":
                return existing
            if existing.status in ("running", "paused"):
                raise errors.FailedPrecondition("a task of container %s is %s" % (rec.id, existing.status))
            self._shim_delete(rec.id)  # the task of an earlier run
        config = json.loads(rec.config_json or b"{}")
        try:
            spec_json = namespaces.join_spec(rec, self.store)  # --ipc/--pid container:<donor>
        except errors.DockyardError as exc:
            self._failed(rec, exc)
        req = shim_pb2.CreateTaskRequest(id=rec.id, spec_json=spec_json, rootfs=rec.rootfs,
                                         terminal=bool(config.get("Tty")),
                                         stdin=bool(config.get("OpenStdin")),
                                         runtime=rec.runtime or "runc")
        try:
            ts = self.shim.Create(req)
        except errors.DockyardError as exc:
            self._failed(rec, exc)
        if ts.error:
            self._failed(rec, errors.Internal(ts.error))
        return ts

    def _failed(self, rec, exc):
        """Record a failed create/start as dockerd does (exit code, error), then raise."""
        code, err = start_error(exc)
        self._shim_delete_quietly(rec.id)
        state = self.store.get(rec.id).state
        state.exit_code = code
        state.error = str(exc)
        self._save(rec.id, state)
        raise err

    def start(self, ref):
        cid = self.store.get(ref).id
        with self.lock(cid):
            rec = self.store.get(cid)
            if rec.state.paused:
                raise errors.Conflict("cannot start a paused container, try unpause instead")
            if rec.state.running:
                raise errors.NotModified("container %s is already running" % cid)
            existing = self._shim_state(cid)
            if existing is None or existing.status != "created":
                self._create_locked(rec)
            try:
                ts = self.shim.Start(shim_pb2.TaskRef(id=cid))
            except errors.DockyardError as exc:
                self._failed(rec, exc)
            if ts.error:
                self._failed(rec, errors.Internal(ts.error))
            self._oom.discard(cid)
            state = self.store.get(cid).state
            state.running, state.paused, state.restarting = True, False, False
            state.dead, state.oom_killed = False, False
            state.pid = ts.pid
            state.exit_code = 0
            state.error = ""
            state.started_at = ts.started_at or ids.now_rfc3339()
            state.status = "running"
            self._save(cid, state)
            self.hub.publish("start", cid)
            return state

    # signals, pause ---------------------------------------------------------------------
    def kill(self, ref, signal=0, exec_id=""):
        rec = self.store.get(ref)
        if not rec.state.running:
            raise self._not_running(rec.id)
        sig = signal or SIGKILL
        if exec_id:  # one exec process (a health probe past its timeout)
            self.shim.Kill(shim_pb2.KillRequest(id=rec.id, exec_id=exec_id, signal=sig))
            return
        self.shim.Kill(shim_pb2.KillRequest(id=rec.id, signal=sig))
        if rec.state.paused and sig == SIGKILL:
            # A frozen process only dies once thawed (dockerd resumes after SIGKILL too).
            try:
                self.shim.Resume(shim_pb2.TaskRef(id=rec.id))
            except errors.DockyardError as exc:
                log.warning("resume after kill failed: %s", exc, extra={"container_id": rec.id})

    def update(self, ref, resources_json):
        """New cgroup limits for a running or paused container (the record is the caller's)."""
        cid = self.store.get(ref).id
        with self.lock(cid):
            state = self.store.get(cid).state
            if not state.running:
                raise self._not_running(cid)
            self.shim.Update(shim_pb2.UpdateTaskRequest(id=cid, resources_json=resources_json))

    def pause(self, ref):
        cid = self.store.get(ref).id
        with self.lock(cid):
            state = self.store.get(cid).state
            if not state.running:
                raise self._not_running(cid)
            if state.paused:
                raise errors.Conflict("Container %s is already paused" % cid)
            self.shim.Pause(shim_pb2.TaskRef(id=cid))
            state.paused, state.status = True, "paused"
            self._save(cid, state)

    def resume(self, ref):
        cid = self.store.get(ref).id
        with self.lock(cid):
            state = self.store.get(cid).state
            if not state.paused:
                raise errors.Conflict("Container %s is not paused" % cid)
            self.shim.Resume(shim_pb2.TaskRef(id=cid))
            state.paused, state.status = False, "running"
            self._save(cid, state)

    def delete(self, ref):
        cid = self.store.get(ref).id
        with self.lock(cid):
            state = self.store.get(cid).state
            if state.running:
                raise errors.FailedPrecondition("cannot delete the task of running container %s" % cid)
            self._shim_delete(cid)
            return state

    # exits ---------------------------------------------------------------------------
    def handle_exit(self, cid, exit_status, exited_at="", pid=0, oom_killed=False, query=True):
        """Record the end of a run (idempotent), emit "die", drop the task (the log stays)."""
        with self.lock(cid):
            try:
                rec = self.store.get(cid)
            except errors.NotFound:
                return False
            state = rec.state
            if rec.id != cid or not state.running:
                return False
            if pid and state.pid and pid != state.pid:
                return False  # an exit of an earlier run
            if query:
                ts = self._shim_state_quietly(cid)
                if ts is not None:
                    oom_killed = oom_killed or ts.oom_killed
                    exited_at = exited_at or ts.exited_at
            state.running = state.paused = state.restarting = False
            state.pid = 0
            state.exit_code = exit_status
            state.finished_at = exited_at or ids.now_rfc3339()
            state.oom_killed = bool(oom_killed or cid in self._oom)
            state.status = "exited"
            self._oom.discard(cid)
            self._save(cid, state)
            self._end_execs(cid)
            self.hub.publish("die", cid, exit_code=exit_status)
            self._shim_delete_quietly(cid)
            return True

    def _shim_state_quietly(self, cid, exec_id=""):
        try:
            return self._shim_state(cid, exec_id)
        except errors.DockyardError:
            return None

    def _end_execs(self, cid):
        for exec_id in self.store.running_execs(cid):
            ex = self.store.get_exec(exec_id)
            ex.update(running=False, exited=True, pid=0)
            self.store.put_exec(ex)

    def handle_oom(self, cid):
        self._oom.add(cid)
        self.hub.publish("oom", cid)

    def on_shim_event(self, ev):
        if ev.type == "exit" and not ev.exec_id:
            self.handle_exit(ev.id, ev.exit_status, ev.exited_at, ev.pid)
        elif ev.type in ("exit", "exec_exit") and ev.exec_id:
            self.handle_exec_exit(ev.id, ev.exec_id, ev.exit_status)
        elif ev.type == "oom":
            self.handle_oom(ev.id)

    def resync(self):
        """Bring running records in line with the shim's tasks (after a restart or a lost stream)."""
        tasks = {t.id: t for t in self.shim.List(types_pb2.Empty()).tasks if not t.exec_id}
        for rec in self.store.list(all=True):
            if rec.state.running:
                self._resync_one(rec.id, tasks.get(rec.id))

    def _resync_one(self, cid, task):
        with self.lock(cid):
            state = self.store.get(cid).state
            if not state.running:
                return
            if task is None or task.status not in ("running", "paused"):
                # The listing may predate a Start that ran since: ask again under the lock.
                task = self._shim_state(cid)
            if task is None:
                # STATE is gone (reboot) or the shim lost the task: it cannot be running.
                log.info("task gone, recording exit", extra={"container_id": cid})
                self.handle_exit(cid, EXIT_DEAD_MONITOR, query=False)
            elif task.status == "stopped":
                self.handle_exit(cid, task.exit_status, task.exited_at, pid=task.pid,
                                 oom_killed=task.oom_killed, query=False)
            elif task.status == "unknown":
                self._kill_quietly(cid)
                self.handle_exit(cid, EXIT_DEAD_MONITOR, query=False)
            else:
                self._sync_running(cid, task)

    def _kill_quietly(self, cid):
        try:
            self.shim.Kill(shim_pb2.KillRequest(id=cid, signal=SIGKILL, all=True))
        except errors.DockyardError:
            pass

    def _sync_running(self, cid, task):
        with self.lock(cid):
            state = self.store.get(cid).state
            if not state.running:
                return
            paused = task.status == "paused"
            if state.paused != paused or (task.pid and state.pid != task.pid):
                # The listing may be older than a restart of the container: ask again.
                task = self._shim_state(cid)
                if task is None or task.status not in ("running", "paused"):
                    return
                paused = task.status == "paused"
                state.paused = paused
                state.status = "paused" if paused else "running"
                state.pid = task.pid or state.pid
                self._save(cid, state)

    # exec ------------------------------------------------------------------------------
    def exec_create(self, ref, exec_id, process_json, terminal=False, stdin=False):
        rec = self.store.get(ref)
        if not rec.state.running:
            raise self._not_running(rec.id)
        if rec.state.paused:
            raise errors.Conflict("Container %s is paused, unpause the container before exec" % rec.id)
        if not exec_id:
            raise errors.InvalidArgument("exec id is required")
        ex = {"exec_id": exec_id, "container_id": rec.id, "process_json": process_json,
              "terminal": terminal, "stdin": stdin, "running": False, "pid": 0,
              "exit_code": 0, "exited": False, "registered": False}
        # Register with the shim now, so the apiserver can attach before ExecStart and no early
        # output of a short exec is lost (the shim holds the process until Start).
        self.shim.Exec(shim_pb2.ExecProcessRequest(
            id=rec.id, exec_id=exec_id, process_json=process_json, terminal=terminal, stdin=stdin))
        ex["registered"] = True
        self.store.put_exec(ex)

    def exec_start(self, ref, exec_id):
        ex = self.store.get_exec(exec_id)
        cid = ex["container_id"]
        with self.lock(cid):
            state = self.store.get(cid).state
            if not state.running:
                raise self._not_running(cid)
            if state.paused:
                raise errors.Conflict("Container %s is paused, unpause the container before exec" % cid)
            if ex["running"]:
                raise errors.Conflict("Error: Exec command %s is already running" % exec_id)
            if ex["exited"]:
                raise errors.Conflict("Error: Exec command %s has already run" % exec_id)
            try:
                if not ex.get("registered"):
                    self.shim.Exec(shim_pb2.ExecProcessRequest(
                        id=cid, exec_id=exec_id, process_json=ex["process_json"],
                        terminal=ex["terminal"], stdin=ex["stdin"]))
                ts = self.shim.Start(shim_pb2.TaskRef(id=cid, exec_id=exec_id))
                if ts.error:
                    raise errors.Internal(ts.error)
            except errors.DockyardError as exc:
                _, err = start_error(exc)
                # dockerd 20.10 records 126 for every exec that could not start, whatever the cause
                ex.update(exited=True, exit_code=EXEC_START_FAILED)
                self.store.put_exec(ex)
                self._shim_delete_quietly(cid, exec_id)
                raise err
            ex.update(running=True, pid=ts.pid)
            self.store.put_exec(ex)
            return self.exec_state(ex)

    def exec_delete(self, ref, exec_id):
        ex = self.exec_get(ref, exec_id)     # settles an exit the shim already knows of
        with self.lock(ex["id"]):
            if self.store.get_exec(exec_id)["running"]:
                raise errors.FailedPrecondition("exec %s is running" % exec_id)
            self.store.delete_exec(exec_id)

    def exec_get(self, ref, exec_id):
        ex = self.store.get_exec(exec_id)
        if ex["running"]:
            # The CLI asks for the exit code as soon as the output ends, usually before the exit
            # event arrived from shim-runner: ask it directly instead of making the caller poll.
            ts = self._shim_state_quietly(ex["container_id"], exec_id)
            if ts is not None and ts.status == "stopped":
                self.handle_exec_exit(ex["container_id"], exec_id, ts.exit_status)
                ex = self.store.get_exec(exec_id)
        return self.exec_state(ex)

    @staticmethod
    def exec_state(ex):
        return {"id": ex["container_id"], "exec_id": ex["exec_id"], "running": ex["running"],
                "pid": ex["pid"], "exit_code": ex["exit_code"], "exited": ex["exited"]}

    def handle_exec_exit(self, cid, exec_id, exit_status):
        with self.lock(cid):
            try:
                ex = self.store.get_exec(exec_id)
            except errors.NotFound:
                return
            if ex["exited"]:
                return
            ex.update(running=False, exited=True, pid=0, exit_code=exit_status)
            self.store.put_exec(ex)
            self.hub.publish("exec_die", cid, exit_code=exit_status, exec_id=exec_id)
        # Off the caller's path (the exit code is recorded): ExecGet answers the CLI at once.
        threading.Thread(target=self._shim_delete_quietly, args=(cid, exec_id),
                         name="exec-delete", daemon=True).start()

