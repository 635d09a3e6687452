"""The exec half of TaskService: register an exec (its monitor starts in the background, held
before `runtime exec` until Start), start it, delete it, and find it again after a restart."""

import json
import logging
import os
import shutil
import threading
import time

from dockyard_common import errors

from .monitor import MONITOR_PID, ProcessSpec, read_int
from .procs import RUNNING, STOPPED, VALID_ID, ExecProc, user_error
from .runtime import RuntimeError_
from .users import apply_user, group_add_of

log = logging.getLogger(__name__)

PREPARE_TIMEOUT = 60.0
ATTACH_SETTLE_TIMEOUT = 2.0
EXEC_START_FAILED = 126
ATTACH_DRAIN_TIMEOUT = 2.0     # an exec's attach sessions get this long to drain at delete


class ExecOps:
    """Mixed into TaskService, which supplies _task, _proc, _publish, _mark_started, _on_exit,
    kill, monitor and lock-holding Proc objects."""

    def _await_prepared(self, proc, timeout=PREPARE_TIMEOUT):
        """An exec's monitor is started in the background by exec(): wait for it here."""
        if proc.start_error is not None:
            raise proc.start_error
        if proc.prepared is not None and not proc.prepared.wait(timeout):
            raise errors.FailedPrecondition("exec %s: the monitor did not start" % proc.exec_id)
        if proc.prepare_error:
            raise errors.FailedPrecondition("cannot prepare exec: %s" % proc.prepare_error)

    def _start_exec(self, proc):
        pending, proc.pending = proc.pending, None
        if pending is None:
            raise errors.FailedPrecondition("exec %s has no monitor" % proc.exec_id)
        started_at_ns = time.time_ns()
        try:
            proc.pid = pending.start()
        except RuntimeError_ as exc:
            # dockerd 20.10 records 126 for every exec that could not start (ContainerExecStart).
            proc.exit_status = EXEC_START_FAILED
            proc.error = exc.message
            proc.status = STOPPED
            proc.exited_at_ns = time.time_ns()
            proc.exited.set()
            self._publish("exec_exit", proc)
            # runc's own message already starts with "exec failed: " (containerd adds the rest)
            raise user_error("OCI runtime exec failed", exc.message, errors.Internal) from None
        return self._mark_started(proc, started_at_ns, "exec_start")

    def _delete_exec(self, cid, exec_id):
        task = self._task(cid)
        proc = self._proc(cid, exec_id)
        if proc.status == RUNNING:
            raise errors.FailedPrecondition("exec %s is running" % exec_id)
        if not proc.exited.is_set():
            self.kill(cid, exec_id)
            proc.exited.wait(5)
        if proc.hub is not None:
            proc.hub.wait_closed(ATTACH_DRAIN_TIMEOUT)
        task.execs.pop(exec_id, None)
        shutil.rmtree(proc.dir, ignore_errors=True)
        return proc.state()

    def exec(self, cid, exec_id, process_json, terminal=False, stdin=False, defer=None):
        """Register an exec; its monitor starts in a background thread. `defer(fn)` (grpc's
        context.add_callback) runs that start once the reply is sent: started before, spawning
        conmon competes with sending the reply (GIL, CPU) and delays it. When defer returns
        False (the call already ended) it starts at once."""
        task = self._task(cid)
        if not VALID_ID.match(exec_id or ""):
            raise errors.InvalidArgument("invalid exec id %r" % exec_id)
        try:
            process = json.loads(process_json)
            if not isinstance(process, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise errors.InvalidArgument("invalid process spec: %s" % exc) from None
        if not process.get("args"):
            raise errors.InvalidArgument("exec needs a command")
        with task.lock:
            if task.status != RUNNING:
                raise errors.FailedPrecondition("container %s is not running" % cid)
            if exec_id in task.execs:
                raise errors.Conflict("exec %s already exists" % exec_id)
            try:
                with open(os.path.join(task.dir, "config.json")) as f:
                    task_spec = json.load(f)
            except (OSError, ValueError):
                task_spec = {}
            base = task_spec.get("process", {})
            for key in ("env", "cwd", "user", "capabilities", "noNewPrivileges", "apparmorProfile",
                        "selinuxLabel", "rlimits"):
                if key not in process and key in base:
                    process[key] = base[key]
            process["terminal"] = bool(terminal)
            user = process.get("user")
            user_error_ = None
            if isinstance(user, str):   # a Docker User string: resolve it against the rootfs
                del process["user"]
                try:
                    apply_user({"process": process}, os.path.join(task.dir, "rootfs"), user,
                               group_add_of(task_spec))
                except errors.InvalidArgument as exc:
                    user_error_ = exc
            process.setdefault("cwd", "/")
            pdir = os.path.join(task.dir, "execs", exec_id)
            os.makedirs(pdir)
            proc = ExecProc(cid, exec_id, pdir, terminal, stdin)
            if user_error_ is not None:
                # dockerd reports an unknown exec user when the exec starts, not at create
                self._refuse_at_start(proc, user_error_)
                task.execs[exec_id] = proc
                return
            spec_path = os.path.join(pdir, "process.json")
            with open(spec_path, "w") as f:
                json.dump(process, f)
            pspec = ProcessSpec(cid=cid, key=exec_id, dir=pdir, runtime=task.runtime,
                                terminal=terminal, stdin=stdin, exec_spec=spec_path)
            # The monitor starts in the background: the caller's next steps (attach, start)
            # wait for it, so its start-up overlaps their round trips instead of adding to them.
            proc.prepared = threading.Event()
            task.execs[exec_id] = proc
        launch = threading.Thread(target=self._prepare_exec, args=(proc, pspec), name="exec-prepare",
                                  daemon=True).start
        if defer is None or not defer(launch):
            launch()

    @staticmethod
    def _refuse_at_start(proc, exc):
        """An exec that will never run: its start raises exc, its exit code is 126."""
        proc.start_error = exc
        proc.status = STOPPED
        proc.exit_status = EXEC_START_FAILED
        proc.error = exc.message
        proc.exited_at_ns = time.time_ns()
        proc.exited.set()

    def _prepare_exec(self, proc, pspec):
        try:
            pending = self.monitor.prepare_exec(pspec)
            with proc.lock:
                proc.pending = pending
                proc.monitor_pid = pending.monitor_pid
                proc.save()
        except Exception as exc:
            proc.prepare_error = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
            log.warning("cannot prepare exec: %s", proc.prepare_error,
                        extra={"container_id": proc.cid, "exec_id": proc.exec_id})
            with proc.lock:
                proc.status = STOPPED
                proc.exit_status = 126
                proc.error = proc.prepare_error
                proc.exited_at_ns = time.time_ns()
                proc.exited.set()
            proc.prepared.set()
            return
        proc.prepared.set()
        self.monitor.watch(proc.monitor_pid, lambda: self._on_exit(proc))
        # Connect to the attach socket now, off the path of the Attach that usually follows.
        self._hub(proc)

    def _restore_exec(self, task, eid, pdir):
        try:
            with open(os.path.join(pdir, ExecProc.META)) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            meta = {}
        mpid = read_int(os.path.join(pdir, MONITOR_PID))
        if not meta.get("started_at_ns"):
            # Registered but never started: its start pipe is gone with the old process.
            self.monitor.kill(mpid)
            shutil.rmtree(pdir, ignore_errors=True)
            return
        proc = ExecProc(task.cid, eid, pdir, meta.get("terminal", False), meta.get("stdin", False))
        proc.pid, proc.started_at_ns, proc.monitor_pid = meta.get("pid", 0), meta["started_at_ns"], mpid
        proc.status = RUNNING
        task.execs[eid] = proc
        if self.monitor.alive(mpid):
            self.monitor.watch(mpid, lambda: self._on_exit(proc))
        else:
            self._on_exit(proc)
