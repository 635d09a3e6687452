"""The health prober: runs each running container's HEALTHCHECK (moby daemon/health.go monitor()).

It lives in the apiserver because dockerd runs health checks, and a probe is an orchestration of
other services: a real exec created and started through the same backend as `docker exec`
(runc in the container's namespaces, its user, env and working dir; exec_create/exec_start
events here, exec_die from the exit monitor), its output read over Shim.Attach like any exec.
The result lives in the container's record at container-service (`health_json`), so the state
outlives restarts of the apiserver and of container-service; this module keeps only timers.

It follows the daemon's own event bus (start, die, pause, destroy) instead of hooking into the
start/stop code paths, and every probe re-reads the record, so a missed event only delays it.
After an apiserver restart, resume() picks up every running container where it was.
"""

import logging
import threading
import time

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_common import errors, ids

from .backend import container_health as ch
from .daemon_worker import DaemonWorker

log = logging.getLogger(__name__)

SIGKILL = 9
ATTACH_TIMEOUT = 1.0     # for shim-runner to confirm the output subscription
EXIT_GRACE = 5.0         # output ended: how long container-service may take to record the exit
KILL_GRACE = 5.0         # a killed probe: how long to wait for its output stream to end
_EVENTS = ("start", "die", "destroy", "pause")


class HealthMonitor(DaemonWorker):
    def __init__(self, daemon):
        super().__init__(daemon)
        self._probers = {}        # container id -> Prober

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        if self._thread:
            return
        # Subscribe before looking at the records: no start can fall between the two.
        sub = self.daemon.events.subscribe(filters={"type": ["container"], "event": list(_EVENTS)},
                                           poll=self._stop.is_set)
        self._thread = threading.Thread(target=self._run, args=(sub,), name="health-monitor", daemon=True)
        self._thread.start()

    def stop(self):
        """Stop probing (apiserver shutdown): the containers keep their recorded health."""
        self._stop.set()
        with self._lock:
            probers, self._probers = list(self._probers.values()), {}
        for p in probers:
            p.stop()

    def _run(self, sub):
        self._resume()
        for ev in sub:
            if self._stop.is_set():
                break
            try:
                self._handle(ev)
            except Exception:
                log.exception("health monitor: handling %s failed", ev.get("Action"))

    def _resume(self):
        """Open a prober for every running container (after an apiserver restart)."""
        while not self._stop.is_set():
            try:
                recs = self.clients.containers.List(containers_pb2.ListContainersRequest(all=False)).containers
                break
            except errors.DockyardError as exc:
                log.debug("health resume: cannot list containers: %s", exc)
                self._stop.wait(1.0)
        else:
            return
        for rec in recs:
            self.open(rec)

    def _handle(self, ev):
        cid, action = ev["Actor"]["ID"], ev["Action"]
        if action == "start":
            try:
                rec = self.clients.containers.Get(containers_pb2.GetContainerRequest(ref=cid))
            except errors.NotFound:
                return
            self.open(rec)
        elif action in ("die", "destroy"):
            self.close(cid)
        elif action == "pause":
            with self._lock:
                p = self._probers.get(cid)
            if p is not None:
                p.mark_unhealthy()

    # ------------------------------------------------------------------ probers
    def open(self, rec):
        """initHealthMonitor/updateHealthMonitor: probe a running container with a health check."""
        if self._stop.is_set() or not rec.state.running:
            return
        config = self.backend.config_of(rec)
        if ch.probe_command(config) is None:
            return
        with self._lock:
            old = self._probers.get(rec.id)
            if old is not None and old.run == rec.state.started_at and old.alive():
                return
            p = self._probers[rec.id] = Prober(self, rec, config)
        if old is not None:
            old.stop()
        p.start()

    def close(self, cid):
        """CloseMonitorChannel: the container stopped."""
        with self._lock:
            p = self._probers.pop(cid, None)
        if p is not None:
            p.close()

    def _forget(self, prober):
        with self._lock:
            if self._probers.get(prober.cid) is prober:
                del self._probers[prober.cid]


class Prober:
    """One container run's probe loop: interval, probe, record the result, repeat."""

    def __init__(self, monitor, rec, config):
        self.monitor = monitor
        self.rec = rec
        self.cid = rec.id
        self.run = rec.state.started_at
        self.started_ns = ids.rfc3339_to_ns(self.run)
        self.config = config
        self.command = ch.probe_command(config)
        self.settings = ch.Settings(config.get("Healthcheck"))
        self.health = ch.view(rec, config) or ch.new_health()
        self._persisted = ch.load_doc(rec)
        self._stopped = threading.Event()
        self._lock = threading.Lock()     # a result is recorded only while not stopped
        self._thread = None

    def alive(self):
        return self._thread is not None and self._thread.is_alive() and not self._stopped.is_set()

    def start(self):
        with self._lock:
            self._persist()               # "starting" (a new run) is visible in the record at once
        self._thread = threading.Thread(target=self._loop, name="health-" + self.cid[:12], daemon=True)
        self._thread.start()

    def stop(self):
        """No write of this prober follows (a newer run's prober may be writing already)."""
        with self._lock:
            self._stopped.set()

    def close(self):
        """CloseMonitorChannel: stop, and the health becomes unhealthy."""
        with self._lock:
            self._stopped.set()
            self._set_unhealthy()

    def _loop(self):
        while not self._stopped.wait(self.settings.interval / 1e9):
            try:
                rec = self.monitor.clients.containers.Get(containers_pb2.GetContainerRequest(ref=self.cid))
            except errors.NotFound:
                break
            except errors.DockyardError as exc:
                log.debug("health %s: record unavailable: %s", self.cid[:12], exc)
                continue
            if rec.state.started_at != self.run:
                break                     # a newer run has its own prober
            if not rec.state.running:
                self.close()              # it stopped and we were not told (a missed event)
                break
            if rec.state.paused:
                self.mark_unhealthy()
                continue
            self.rec = rec
            self._record(ProbeRun(self.monitor, rec, self.command, self.settings.timeout,
                                  self._stopped).run())
        self.monitor._forget(self)

    def _record(self, res):
        if res is None:
            return
        with self._lock:
            if self._stopped.is_set():
                return                    # stopped while probing: Docker drops the result
            old = self.health["Status"]
            self.health = ch.record_result(self.health, res, self.settings, self.started_ns)
            self._persist()
            new = self.health["Status"]
        if new != old:
            self.monitor.backend.emit(self.rec, "health_status: " + new)

    def mark_unhealthy(self):
        """Paused: probes wait, the health is unhealthy until the next probe after unpause."""
        with self._lock:
            if not self._stopped.is_set():
                self._set_unhealthy()

    def _set_unhealthy(self):
        if self.health["Status"] != ch.UNHEALTHY:
            self.health = dict(self.health, Status=ch.UNHEALTHY)
        self._persist()

    def _persist(self):
        doc = {"run": self.run, "health": self.health}
        if doc == self._persisted:
            return
        try:
            self.monitor.clients.containers.Update(containers_pb2.UpdateContainerRequest(
                id=self.cid, health_json=ch.dump_doc(self.run, self.health)))
            self._persisted = doc
        except errors.NotFound:
            self._stopped.set()
        except errors.DockyardError as exc:
            log.warning("health %s: cannot record the health state: %s", self.cid[:12], exc)


class ProbeRun:
    """One probe: exec the command, collect up to 4096 bytes of output, kill it at the timeout.
    run() returns a HealthcheckResult dict, or None when the prober was stopped meanwhile."""

    def __init__(self, monitor, rec, command, timeout_ns, stopped):
        self.monitor = monitor
        self.rec = rec
        self.command = command
        self.timeout_ns = timeout_ns
        self.stopped = stopped

    def run(self):
        start = time.time_ns()
        deadline = time.monotonic() + self.timeout_ns / 1e9
        try:
            code, output = self._exec(deadline)
        except _Timeout:
            return ch.timeout_result(start, time.time_ns(), self.timeout_ns)
        except _Stopped:
            return None
        except errors.DockyardError as exc:
            log.warning("Health check for container %s error: %s", self.rec.id, exc)
            code, output = -1, str(exc)
        return ch.result(start, time.time_ns(), code, output)

    def _exec(self, deadline):
        backend = self.monitor.backend
        if not self.command:
            raise errors.InvalidArgument("No exec command specified")
        exec_id = backend.exec_create(self.rec.id, {"Cmd": self.command, "AttachStdout": True,
                                                    "AttachStderr": True}, self.rec)["Id"]
        out = _Output(self.monitor.clients.shim, self.rec.id, exec_id)
        try:
            out.connect()
            backend.exec_start(backend.execs.get(exec_id), self.rec)
            if out.failed_early():
                out.connect()             # the shim did not know the exec before its start
            code = self._wait(out, exec_id, deadline)
            return code, out.buffer.text()
        finally:
            out.close()
            backend.execs.forget(exec_id)  # Docker drops finished probe execs (no ExecIDs)
            self._delete(exec_id)

    def _delete(self, exec_id):
        """Drop the probe's record in container-service too (one per probe would pile up)."""
        try:
            self.monitor.clients.tasks.ExecDelete(tasks_pb2.ExecRef(id=self.rec.id, exec_id=exec_id))
        except errors.DockyardError as exc:   # still dying after a kill: removed with the container
            log.debug("forgetting probe %s: %s", exec_id[:12], exc)

    def _wait(self, out, exec_id, deadline):
        tasks = self.monitor.clients.tasks
        ref = tasks_pb2.ExecRef(id=self.rec.id, exec_id=exec_id)
        while not out.done.wait(max(0.0, min(0.5, deadline - time.monotonic()))):
            if self.stopped.is_set():
                self._kill(exec_id, out)
                raise _Stopped()
            if time.monotonic() >= deadline:
                self._kill(exec_id, out)
                raise _Timeout()
            if tasks.ExecGet(ref).exited:
                out.done.wait(1.0)        # let the last output arrive
                break
        grace = time.monotonic() + EXIT_GRACE
        while True:
            st = tasks.ExecGet(ref)
            if st.exited:
                return st.exit_code
            if time.monotonic() >= min(grace, deadline):
                if time.monotonic() >= deadline:
                    self._kill(exec_id, out)
                    raise _Timeout()
                raise errors.Internal("healthcheck for container %s has no exit code" % self.rec.id)
            time.sleep(0.05)

    def _kill(self, exec_id, out):
        try:
            self.monitor.clients.tasks.Kill(tasks_pb2.KillTaskRequest(
                id=self.rec.id, exec_id=exec_id, signal=SIGKILL))
        except errors.DockyardError as exc:
            log.debug("killing probe %s: %s", exec_id[:12], exc)
        out.done.wait(KILL_GRACE)         # do not let dying probes pile up


class _Timeout(Exception):
    pass


class _Stopped(Exception):
    pass


class _Output:
    """The probe's stdout and stderr, read over Shim.Attach (subscribed before the exec starts)."""

    def __init__(self, shim, cid, exec_id):
        self.shim = shim
        self.cid, self.exec_id = cid, exec_id
        self.buffer = ch.OutputBuffer()
        self.done = threading.Event()
        self.call = None
        self._error = False

    def connect(self):
        self.done.clear()
        self._error = False
        opened = shim_pb2.AttachInput(open=shim_pb2.AttachOpen(
            id=self.cid, exec_id=self.exec_id, stdin=False, stdout=True, stderr=True))
        self.call = self.shim.Attach(iter([opened]))
        subscribed = threading.Event()
        threading.Thread(target=self._read, args=(self.call, subscribed), daemon=True,
                         name="probe-out-" + self.exec_id[:12]).start()
        subscribed.wait(ATTACH_TIMEOUT)

    def _read(self, call, subscribed):
        try:
            call._it.initial_metadata()
            subscribed.set()
            for chunk in call:
                if chunk.data:
                    self.buffer.write(chunk.data)
        except Exception as exc:  # an error, or our own cancel()
            self._error = True
            log.debug("probe output %s ended: %s", self.exec_id[:12], exc)
        finally:
            subscribed.set()
            if call is self.call:
                self.done.set()

    def failed_early(self):
        return self.done.is_set() and self._error and not self.buffer.data

    def close(self):
        call = self.call
        if call is not None and not self.done.is_set():
            try:
                call.cancel()
            except Exception:
                pass
