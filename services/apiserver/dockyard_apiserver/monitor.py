"""The exit monitor: follows Tasks.Events, relays container events, wakes waiters, auto-removes.

dockerd learns about exits from containerd's event stream (daemon/monitor.go); we read
container-service's Tasks.Events the same way, reconnecting when the stream drops. A waiter also
re-checks the record now and then, so an exit missed while reconnecting is never lost.
"""

import json
import logging
import threading
import time

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, grpcutil, ids

from .daemon_worker import DaemonWorker

log = logging.getLogger(__name__)

CONDITIONS = ("not-running", "next-exit", "removed")
_POLL = 1.0


class Waiter:
    """One blocked `POST /containers/{id}/wait` (or an internal wait for stop)."""

    def __init__(self, monitor, cid, condition, baseline):
        self.monitor = monitor
        self.cid = cid
        self.condition = condition
        self.baseline = baseline      # FinishedAt when registered (next-exit)
        self.result = None            # {"StatusCode": n, "Error": ...}
        self.last_code = 0            # the latest exit seen (what `removed` answers)
        self._event = threading.Event()

    def resolve(self, code, error=None):
        if self.result is None:
            self.result = {"StatusCode": int(code), "Error": {"Message": error} if error else None}
        self._event.set()

    def wait(self, timeout=None):
        """The result, or None after `timeout` seconds (None = forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
            if self._event.wait(step):
                return self.result
            self.monitor.recheck(self)
            if self._event.is_set():
                return self.result
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def cancel(self):
        self.monitor.unregister(self)


class ExitMonitor(DaemonWorker):
    def __init__(self, daemon):
        super().__init__(daemon)
        self._waiters = {}            # container id -> [Waiter]
        self._stream = None

    # --------------------------------------------------------------- lifecycle
    def start(self):
        if self._thread:
            return
        self._thread = threading.Thread(target=self._run, name="exit-monitor", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        grpcutil.cancel_quietly(self._stream)

    def _run(self):
        first = True
        while not self._stop.is_set():
            try:
                stream = self.clients.tasks.Events(types_pb2.Empty())
                self._stream = stream
                # Events are now buffered for us: catch up on what happened before.
                self._restore(first)
                first = False
                for ev in stream:
                    self._handle(ev)
            except errors.DockyardError as exc:
                if not self._stop.is_set():
                    log.debug("task events stream ended: %s", exc)
            except Exception:
                log.exception("exit monitor failed; reconnecting")
            self._stream = None
            self._stop.wait(0.5)

    def _restore(self, first):
        """dockerd restore(): remove AutoRemove containers that exited while we were away."""
        try:
            recs = self.clients.containers.List(containers_pb2.ListContainersRequest(all=True)).containers
        except errors.DockyardError as exc:
            log.debug("restore: cannot list containers: %s", exc)
            return
        for rec in recs:
            st = rec.state
            if st.running or st.status not in ("exited", "dead"):
                continue
            hc = self.backend.host_config_of(rec)
            if hc.get("AutoRemove"):
                self._auto_remove(rec)
                continue
            if _attached(rec):
                self.backend.release_networks(rec.id)  # it exited while we were away
            if first and rec.state.started_at and not rec.state.started_at.startswith("0001") \
                    and self._should_restart(rec, hc, rec.state.exit_code):
                # It exited (or the host rebooted) while the stack was down: apply its restart
                # policy now, as dockerd's restore() does.
                threading.Thread(target=self._restart, args=(rec,), daemon=True).start()
        self._recheck_all()

    # --------------------------------------------------------------- events
    def _handle(self, ev):
        kind = ev.type
        if kind in ("start", "die", "oom"):
            try:
                rec = self.clients.containers.Get(containers_pb2.GetContainerRequest(ref=ev.id))
            except errors.NotFound:
                rec = None
            if kind == "start":
                if rec is not None:
                    self.backend.emit(rec, "start")
            elif kind == "oom":
                if rec is not None:
                    self.backend.emit(rec, "oom")
            else:
                self._on_exit(ev.id, rec, ev.exit_code)
        elif kind == "exec_die":
            self.backend.execs.exited(ev.exec_id, ev.exit_code)   # wakes `exec start` at once
            self.daemon.hubs.process_exited(ev.id, ev.exec_id)
            try:
                rec = self.clients.containers.Get(containers_pb2.GetContainerRequest(ref=ev.id))
                self.backend.emit(rec, "exec_die", execID=ev.exec_id, exitCode=ev.exit_code)
            except errors.NotFound:
                pass

    def _on_exit(self, cid, rec, code):
        self.daemon.hubs.task_exited(cid)
        if rec is not None:
            self.backend.emit(rec, "die", exitCode=code)
        self._wake(cid, ("not-running", "next-exit"), code)
        if rec is None:
            return
        hc = self.backend.host_config_of(rec)
        if hc.get("AutoRemove"):
            threading.Thread(target=self._auto_remove, args=(rec,), daemon=True).start()
        elif self._should_restart(rec, hc, code):
            threading.Thread(target=self._restart, args=(rec,), daemon=True).start()
        else:
            # A stopped container holds no address and no published port (dockerd Cleanup).
            threading.Thread(target=self.backend.release_networks, args=(cid,), daemon=True).start()

    def _should_restart(self, rec, hc, code):
        policy = hc.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if name == "no" or self.backend.is_manually_stopped(rec):
            return False
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            limit = int(policy.get("MaximumRetryCount") or 0)
            return code != 0 and (limit == 0 or rec.state.restart_count < limit)
        return False

    def _restart(self, rec):
        time.sleep(0.1)  # dockerd backs off from 100ms
        try:
            fresh = self.clients.containers.Get(containers_pb2.GetContainerRequest(ref=rec.id))
            if fresh.state.running or self.backend.is_manually_stopped(fresh):
                return
            with self.backend.lock(rec.id):
                # dockerd cleans the ended run up before the next (its disconnect/unmount events)
                self.backend.release_networks(rec.id)
                self.backend._start_task(self.backend.get(rec.id), restart=True)
        except errors.DockyardError as exc:
            log.warning("restart of %s failed: %s", rec.id[:12], exc)

    def _auto_remove(self, rec):
        try:
            self.backend.remove_resources(rec, remove_volumes=True)
        except errors.DockyardError as exc:
            log.warning("auto-remove of %s failed: %s", rec.id[:12], exc)

    # --------------------------------------------------------------- waiters
    def register(self, cid, condition="not-running"):
        """Register first, then look at the record: no exit can fall between the two."""
        if condition not in CONDITIONS:
            raise errors.InvalidArgument("invalid condition: %s" % condition)
        waiter = Waiter(self, cid, condition, None)
        with self._lock:
            self._waiters.setdefault(cid, []).append(waiter)
        try:
            rec = self.clients.containers.Get(containers_pb2.GetContainerRequest(ref=cid))
        except errors.NotFound:
            if condition == "removed":
                waiter.resolve(0)
            else:
                self.unregister(waiter)
                raise errors.NotFound("No such container: %s" % cid) from None
            return waiter
        waiter.baseline = rec.state.finished_at
        if condition == "not-running" and not rec.state.running:
            waiter.resolve(rec.state.exit_code, rec.state.error or None)
        return waiter

    def unregister(self, waiter):
        with self._lock:
            items = self._waiters.get(waiter.cid) or []
            if waiter in items:
                items.remove(waiter)
            if not items:
                self._waiters.pop(waiter.cid, None)

    def _wake(self, cid, conditions, code, error=None):
        with self._lock:
            items = list(self._waiters.get(cid) or [])
        for w in items:
            w.last_code = int(code)
            if w.condition in conditions:
                w.resolve(code, error)

    def removed(self, cid):
        """Called after a container was deleted: answers the `removed` waiters."""
        with self._lock:
            items = list(self._waiters.get(cid) or [])
        for w in items:
            if w.result is None and w.condition != "removed":
                # The container disappeared before exiting as far as we saw: answer anyway.
                w.resolve(0)
            if w.condition == "removed":
                w.resolve(w.last_code)

    def recheck(self, waiter):
        """Poll the record (for exits missed while the event stream was down)."""
        try:
            rec = self.clients.containers.Get(containers_pb2.GetContainerRequest(ref=waiter.cid))
        except errors.NotFound:
            waiter.resolve(waiter.last_code)
            return
        except errors.DockyardError:
            return
        st = rec.state
        if waiter.condition == "removed":
            if not st.running:
                waiter.last_code = st.exit_code
            return
        if st.running:
            return
        exited_since = ids.rfc3339_to_ns(st.finished_at) > ids.rfc3339_to_ns(waiter.baseline or "")
        if waiter.condition == "not-running" or exited_since:
            waiter.resolve(st.exit_code, st.error or None)

    def _recheck_all(self):
        with self._lock:
            items = [w for ws in self._waiters.values() for w in ws]
        for w in items:
            self.recheck(w)


def _attached(rec):
    """Its last run still holds endpoints, or has not been reported ended."""
    try:
        doc = json.loads(rec.network_json or b"{}")
    except ValueError:
        return False
    return bool(doc.get("attached") or doc.get("started"))
