"""The task core: state machine of every container's init process and its execs.

Plain Python, no gRPC: server.py adapts it. Runtime commands go through an OCIRuntime, process
supervision through a Monitor, rootfs mounting through a Mounter, so unit tests use fakes.
"""

import json
import logging
import os
import queue
import shutil
import signal
import threading
import time

from dockyard_common import errors

from . import logrotate
from . import shm
from . import logs as logs_mod
from . import stats as stats_mod
from .attach import AttachHub
from .monitor import (INIT_PID, MONITOR_PID, ProcessSpec, connect_attach, oom_killed, read_exit,
                      read_int, write_resize)
from .execs import ATTACH_SETTLE_TIMEOUT, PREPARE_TIMEOUT, ExecOps
from .procs import CREATED, PAUSED, RUNNING, STOPPED, VALID_ID, Task, rfc3339, user_error
from .runtime import RuntimeError_
from .users import apply_spec_user

log = logging.getLogger(__name__)

ATTACH_DRAIN_TIMEOUT = 2.0


class TaskService(ExecOps):
    def __init__(self, layout, monitor, mounter, runtime_factory):
        self.layout = layout
        self.monitor = monitor
        self.mounter = mounter
        self.runtime_factory = runtime_factory
        self._tasks = {}
        self._lock = threading.Lock()
        self._subs = []
        self.rotator = logrotate.Rotator()

    # -- lookup --------------------------------------------------------------------------------

    def _task(self, cid):
        with self._lock:
            task = self._tasks.get(cid)
        if task is None:
            raise errors.NotFound("task %s not found" % cid)
        return task

    def _proc(self, cid, exec_id=""):
        task = self._task(cid)
        if not exec_id:
            return task
        proc = task.execs.get(exec_id)
        if proc is None:
            raise errors.NotFound("exec %s not found in task %s" % (exec_id, cid))
        return proc

    # -- events ----------------------------------------------------------------------------------

    def subscribe(self):
        q = queue.Queue()
        with self._lock:
            self._subs.append(q)
        return q

    def unsubscribe(self, q):
        with self._lock:
            if q in self._subs:
                self._subs.remove(q)
        q.put(None)

    def _publish(self, type_, proc):
        event = {"type": type_, "id": proc.cid, "exec_id": proc.exec_id, "pid": proc.pid,
                 "exit_status": proc.exit_status if type_.endswith("exit") else 0,
                 "exited_at": rfc3339(proc.exited_at_ns) if type_.endswith("exit") else ""}
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            q.put(event)

    # -- create / start ------------------------------------------------------------------------

    def create(self, cid, spec_json, rootfs, terminal=False, stdin=False, runtime=""):
        if not VALID_ID.match(cid or ""):
            raise errors.InvalidArgument("invalid task id %r" % cid)
        try:
            spec = json.loads(spec_json)
            if not isinstance(spec, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise errors.InvalidArgument("invalid OCI spec: %s" % exc) from None
        log_cfg = logrotate.config_from_spec(spec)
        rt = self.runtime_factory(runtime)
        bundle = self.layout.task_dir(cid)
        with self._lock:
            if cid in self._tasks or os.path.exists(bundle):
                raise errors.Conflict("task %s already exists" % cid)
            os.makedirs(os.path.join(bundle, "rootfs"))
            task = Task(cid, bundle, rt, terminal, stdin)
            self._tasks[cid] = task
        ok = False
        try:
            rootfs_dir = os.path.join(bundle, "rootfs")
            if rootfs:
                self.mounter.mount_all(rootfs, rootfs_dir)
                spec.setdefault("root", {})["path"] = "rootfs"
            elif not os.path.isabs(spec.get("root", {}).get("path", "")):
                raise errors.InvalidArgument("no rootfs mounts and no absolute root.path")
            shm.prepare(spec, bundle, self.layout.task_dir, self.mounter)
            process = spec.setdefault("process", {})
            process["terminal"] = bool(terminal)
            apply_spec_user(spec, rootfs_dir if rootfs else spec["root"]["path"])
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(spec, f)
            log_path = self.layout.container_log(cid)
            os.makedirs(os.path.dirname(log_path), exist_ok=True)
            pspec = ProcessSpec(cid=cid, key=cid, dir=bundle, runtime=rt, terminal=terminal,
                                stdin=stdin, log_path="" if log_cfg.driver == "none" else log_path,
                                log_size_max=log_cfg.conmon_size_max)
            try:
                task.monitor_pid, task.pid = self.monitor.create(pspec)
            except RuntimeError_ as exc:
                raise user_error("failed to create task for container: OCI runtime create failed",
                                  exc.message) from None
            task.save()
            ok = True
        finally:
            if not ok:
                self._discard(task)
        self.rotator.add(cid, log_path, bundle, log_cfg)
        self.monitor.watch(task.monitor_pid, lambda: self._on_exit(task))
        log.info("task created", extra={"container_id": cid, "pid": task.pid})
        return task.state()

    def _discard(self, task):
        """Undo a failed create: no monitor, no runtime state, no mount, no bundle."""
        mpid = read_int(os.path.join(task.dir, MONITOR_PID))
        if mpid:
            self.monitor.kill(mpid)
        try:
            task.runtime.delete(task.cid, force=True)
        except RuntimeError_ as exc:
            log.warning("runtime delete after failed create: %s", exc.message)
        self._remove_bundle(task)
        with self._lock:
            self._tasks.pop(task.cid, None)

    def _remove_bundle(self, task):
        shm.cleanup(task.dir, self.mounter)
        try:
            self.mounter.unmount_all(os.path.join(task.dir, "rootfs"))
        except OSError as exc:
            log.warning("unmount failed: %s", exc, extra={"container_id": task.cid})
        shutil.rmtree(task.dir, ignore_errors=True)

    def start(self, cid, exec_id=""):
        proc = self._proc(cid, exec_id)
        if exec_id:
            self._await_prepared(proc)      # before the lock: the preparing thread takes it
            # An attach that came first (and waited for the monitor too) subscribes before the
            # process can write anything.
            with proc.attach_cv:
                proc.attach_cv.wait_for(lambda: proc.attaching == 0, ATTACH_SETTLE_TIMEOUT)
        with proc.lock:
            if proc.status in (RUNNING, PAUSED):
                raise errors.NotModified("process already started")
            if proc.status == STOPPED:
                raise errors.FailedPrecondition("cannot start a stopped process: %s" %
                                                (proc.error or "it has exited"))
            if exec_id:
                return self._start_exec(proc)
            # Taken before the start: a process that exits at once must not finish before it began.
            started_at_ns = time.time_ns()
            try:
                proc.runtime.start(cid)
            except RuntimeError_ as exc:
                raise user_error("failed to start task: OCI runtime start failed", exc.message) from None
            return self._mark_started(proc, started_at_ns, "start")

    def _mark_started(self, proc, started_at_ns, event):
        if proc.status == CREATED:
            proc.status = RUNNING
        proc.started_at_ns = started_at_ns
        proc.save()
        self._publish(event, proc)
        return proc.state()

    # -- exit ----------------------------------------------------------------------------------

    def _on_exit(self, proc):
        """The monitor is gone: read the exit file (written before it exits) and tell everyone."""
        res = read_exit(proc.dir)
        with proc.lock:
            if proc.exited.is_set():
                return
            if res is None:
                log.warning("monitor died without an exit file", extra={"container_id": proc.cid})
                if not proc.exec_id:
                    try:
                        proc.runtime.kill(proc.cid, int(signal.SIGKILL), True)
                    except RuntimeError_:
                        pass
                proc.exit_status, proc.exited_at_ns = 255, time.time_ns()
            else:
                proc.exit_status, proc.exited_at_ns = res
            proc.oom = oom_killed(proc.dir)
            proc.status = STOPPED
            if proc.pending is not None:
                proc.pending.close()
                proc.pending = None
            proc.exited.set()
            if not proc.exec_id:
                # the log settles (and its followers wake) before the exit is published
                self.rotator.finish(proc.cid, self.layout.container_log(proc.cid))
            if proc.oom:
                self._publish("oom", proc)
            self._publish("exec_exit" if proc.exec_id else "exit", proc)
        log.info("process exited", extra={"container_id": proc.cid, "exec_id": proc.exec_id,
                                          "exit_status": proc.exit_status})

    # -- simple queries ------------------------------------------------------------------------

    def state(self, cid, exec_id=""):
        proc = self._proc(cid, exec_id)
        if proc.status in (RUNNING, PAUSED) and not proc.exited.is_set() and read_exit(proc.dir):
            # The monitor wrote its exit file (it does so before closing the attach socket):
            # answer with the exit now rather than after the pidfd watcher catches up.
            self._on_exit(proc)
        return proc.state()

    def list(self):
        with self._lock:
            tasks = list(self._tasks.values())
        return [t.state() for t in tasks if t.monitor_pid]

    def wait(self, cid, exec_id="", is_active=lambda: True):
        proc = self._proc(cid, exec_id)
        while not proc.exited.wait(0.5):
            if not is_active():
                raise errors.Unavailable("wait cancelled")
        return proc.state()

    def pids(self, cid):
        task = self._task(cid)
        if task.status == STOPPED:
            return []
        try:
            return task.runtime.ps(cid)
        except RuntimeError_ as exc:
            raise errors.FailedPrecondition(exc.message) from None

    def stats(self, cid):
        task = self._task(cid)
        pid = task.pid if task.status != STOPPED else 0
        return stats_mod.collect(pid)

    # -- control -------------------------------------------------------------------------------

    def kill(self, cid, exec_id="", sig=0, all_=False):
        proc = self._proc(cid, exec_id)
        sig = sig or int(signal.SIGKILL)
        if exec_id and proc.prepared is not None:
            proc.prepared.wait(PREPARE_TIMEOUT)     # before the lock: the preparing thread takes it
        with proc.lock:
            if proc.status == STOPPED:
                raise errors.FailedPrecondition("container %s is not running" % cid)
            if exec_id:
                if proc.status == CREATED:       # never started: just drop its monitor
                    if proc.pending:
                        proc.pending.close()
                        proc.pending = None
                    self.monitor.kill(proc.monitor_pid)
                    return
                try:
                    os.kill(proc.pid, sig)
                except ProcessLookupError:
                    pass
                return
            paused = proc.status == PAUSED
            try:
                proc.runtime.kill(cid, sig, all_)
            except RuntimeError_ as exc:
                if proc.exited.wait(0.2):
                    raise errors.FailedPrecondition("container %s is not running" % cid) from None
                raise errors.FailedPrecondition("cannot kill task %s: %s" % (cid, exc.message)) from None
            if paused and sig == signal.SIGKILL:
                try:
                    proc.runtime.resume(cid)   # a frozen process cannot die
                except RuntimeError_:
                    pass

    def pause(self, cid):
        task = self._task(cid)
        with task.lock:
            if task.status == PAUSED:
                raise errors.FailedPrecondition("container %s is already paused" % cid)
            if task.status != RUNNING:
                raise errors.FailedPrecondition("container %s is not running" % cid)
            try:
                task.runtime.pause(cid)
            except RuntimeError_ as exc:
                raise errors.FailedPrecondition(exc.message) from None
            task.status = PAUSED

    def resume(self, cid):
        task = self._task(cid)
        with task.lock:
            if task.status != PAUSED:
                raise errors.FailedPrecondition("container %s is not paused" % cid)
            try:
                task.runtime.resume(cid)
            except RuntimeError_ as exc:
                raise errors.FailedPrecondition(exc.message) from None
            if task.status == PAUSED:
                task.status = RUNNING

    def update(self, cid, resources_json):
        """Apply new cgroup limits to a running or paused task (`docker update`)."""
        try:
            resources = json.loads(resources_json or b"{}")
            if not isinstance(resources, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise errors.InvalidArgument("invalid resources: %s" % exc) from None
        task = self._task(cid)
        with task.lock:
            if task.status not in (RUNNING, PAUSED, CREATED):
                raise errors.FailedPrecondition("container %s is not running" % cid)
            try:
                task.runtime.update(cid, resources)
            except RuntimeError_ as exc:
                raise errors.FailedPrecondition(exc.message) from None

    def delete(self, cid, exec_id=""):
        if exec_id:
            return self._delete_exec(cid, exec_id)
        task = self._task(cid)
        with task.lock:
            if task.status in (RUNNING, PAUSED):
                raise errors.FailedPrecondition(
                    "cannot delete task %s: it is %s; stop it first" % (cid, task.status))
            try:
                task.runtime.delete(cid, force=True)
            except RuntimeError_ as exc:
                log.warning("runtime delete: %s", exc.message, extra={"container_id": cid})
            for proc in list(task.execs.values()):
                if not proc.exited.is_set():
                    self.monitor.kill(proc.monitor_pid)
        if not task.exited.wait(5):
            self.monitor.kill(task.monitor_pid)
            task.exited.wait(5)
        for proc in [task, *task.execs.values()]:
            if proc.hub is not None:
                proc.hub.wait_closed(ATTACH_DRAIN_TIMEOUT)
        self._remove_bundle(task)
        with self._lock:
            self._tasks.pop(cid, None)
        log.info("task deleted", extra={"container_id": cid})
        return task.state()

    # -- I/O -----------------------------------------------------------------------------------

    def _hub(self, proc):
        try:
            self._await_prepared(proc)
        except errors.DockyardError:     # no monitor: nothing to attach to
            return None
        with proc.lock:
            if proc.hub is None:
                if proc.status == STOPPED:
                    return None
                try:
                    sock = connect_attach(proc.dir)
                except OSError as exc:
                    log.info("attach socket unavailable: %s", exc, extra={"container_id": proc.cid})
                    return None
                proc.hub = AttachHub(sock, proc.terminal, proc.exec_id or proc.cid)
            return proc.hub

    def attach(self, cid, exec_id="", stdin=False, stdout=True, stderr=True):
        """A Subscription: iterate for (stream, data); ends once the process output is drained."""
        proc = self._proc(cid, exec_id)
        with proc.attach_cv:
            proc.attaching += 1
        try:
            hub = self._hub(proc)
            if hub is None:
                return None
            return hub.subscribe(stdout, stderr, stdin and proc.stdin)
        finally:
            with proc.attach_cv:
                proc.attaching -= 1
                proc.attach_cv.notify_all()

    def close_stdin(self, cid, exec_id=""):
        proc = self._proc(cid, exec_id)
        if not proc.stdin:
            return
        hub = self._hub(proc)
        if hub is not None:
            hub.close_stdin()

    def resize(self, cid, exec_id, width, height):
        proc = self._proc(cid, exec_id)
        if exec_id:
            self._await_prepared(proc)      # the ctl fifo exists once the monitor is up
        if proc.status == STOPPED:
            raise errors.FailedPrecondition("container %s is not running" % cid)
        if not proc.terminal:
            return
        try:
            write_resize(proc.dir, height, width)
        except RuntimeError_ as exc:
            raise errors.FailedPrecondition(exc.message) from None

    def logs(self, cid, follow=False, stdout=True, stderr=True, since_ns=0, until_ns=0, tail=-1,
             is_active=lambda: True):
        with self._lock:
            task = self._tasks.get(cid)
        path = self.layout.container_log(cid)
        if task is None and not logs_mod.log_files(path):    # rotated files count too
            raise errors.NotFound("no logs for container %s" % cid)
        if task is None:
            finished, wait = (lambda: True), (lambda: None)
        else:
            finished, wait = task.exited.is_set, (lambda: logs_mod.wait_change(path, 0.25))
        return logs_mod.read_logs(path, stdout, stderr, since_ns, until_ns, tail, follow,
                                  finished, wait, is_active)

    # -- restore -------------------------------------------------------------------------------

    def restore(self):
        """Adopt the tasks of a previous shim-runner: their monitors kept running meanwhile."""
        root = self.layout.tasks_dir
        if not os.path.isdir(root):
            return
        for cid in sorted(os.listdir(root)):
            bundle = os.path.join(root, cid)
            try:
                self._restore_task(cid, bundle)
            except Exception:
                log.exception("cannot restore task", extra={"container_id": cid})

    def _restore_task(self, cid, bundle):
        try:
            with open(os.path.join(bundle, Task.META)) as f:
                meta = json.load(f)
            rt = self.runtime_factory(meta.get("runtime", ""))
        except (OSError, ValueError, errors.DockyardError):
            log.warning("dropping half-created task", extra={"container_id": cid})
            task = Task(cid, bundle, self.runtime_factory(""))
            self._discard(task)
            return
        task = Task(cid, bundle, rt, meta.get("terminal", False), meta.get("stdin", False))
        task.pid = meta.get("pid") or read_int(os.path.join(bundle, INIT_PID))
        task.started_at_ns = meta.get("started_at_ns", 0)
        task.monitor_pid = read_int(os.path.join(bundle, MONITOR_PID))
        if read_exit(bundle) is None and self.monitor.alive(task.monitor_pid):
            st = (rt.state(cid) or {}).get("status", "running")
            task.status = {"created": CREATED, "paused": PAUSED}.get(st, RUNNING)
        else:
            task.status = RUNNING if task.started_at_ns else CREATED   # _on_exit settles it
        with self._lock:
            self._tasks[cid] = task
        self.rotator.add(cid, self.layout.container_log(cid), bundle,
                         logrotate.config_from_bundle(bundle))
        if not self.monitor.alive(task.monitor_pid):
            self._on_exit(task)
        else:
            self.monitor.watch(task.monitor_pid, lambda: self._on_exit(task))
        execs_dir = os.path.join(bundle, "execs")
        for eid in sorted(os.listdir(execs_dir)) if os.path.isdir(execs_dir) else []:
            self._restore_exec(task, eid, os.path.join(execs_dir, eid))
        log.info("task restored", extra={"container_id": cid, "status": task.status})
