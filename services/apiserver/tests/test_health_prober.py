"""The prober (health.py) against fakes: what it records, when it emits, how a probe times out.
No processes, no gRPC."""

import json
import threading
import types

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_apiserver import health
from dockyard_apiserver.backend import container_health as ch
from dockyard_apiserver.backend.containers import ExecStore
from dockyard_common import errors

CID = "c" * 64
RUN = "2024-01-01T00:00:00.000000001Z"
CONFIG = {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 3600 * ch.SECOND, "Retries": 2}}


class FakeContainers:
    def __init__(self, rec):
        self.rec = rec
        self.updates = []

    def Get(self, req):
        if self.rec is None:
            raise errors.NotFound("No such container: %s" % req.ref)
        return self.rec

    def Update(self, req):
        self.updates.append(json.loads(req.health_json))
        self.rec.health_json = req.health_json
        return self.rec


class FakeTasks:
    def __init__(self):
        self.killed = []
        self.deleted = []
        self.exited = False
        self.on_kill = lambda: None

    def ExecGet(self, req):
        return tasks_pb2.ExecState(id=req.id, exec_id=req.exec_id, exited=self.exited, exit_code=0)

    def Kill(self, req):
        self.killed.append((req.exec_id, req.signal))
        self.on_kill()

    def ExecDelete(self, req):
        self.deleted.append(req.exec_id)


class SilentShim:
    """An exec whose output never ends (a hung probe) until it is killed."""

    def __init__(self):
        self.release = threading.Event()

    def Attach(self, requests):
        list(requests)
        release = self.release

        class Call:
            _it = types.SimpleNamespace(initial_metadata=lambda: None)

            def __iter__(self):
                release.wait(5)
                return iter(())

            def cancel(self):
                release.set()
        return Call()


class FakeBackend:
    def __init__(self):
        self.execs = ExecStore()
        self.events = []

    @staticmethod
    def config_of(rec):
        return json.loads(rec.config_json)

    def emit(self, rec, action, **extra):
        self.events.append(action)

    def exec_create(self, ref, body, rec=None):
        self.execs.add("e1", CID, {"Cmd": body["Cmd"]})
        return {"Id": "e1"}

    def exec_start(self, ex, rec):
        pass


def make(running=True):
    rec = containers_pb2.Container(id=CID, name="x", config_json=json.dumps(CONFIG).encode())
    rec.state.running = running
    rec.state.started_at = RUN
    clients = types.SimpleNamespace(containers=FakeContainers(rec), tasks=FakeTasks(), shim=SilentShim())
    clients.tasks.on_kill = clients.shim.release.set
    daemon = types.SimpleNamespace(clients=clients, _container_backend=FakeBackend())
    return health.HealthMonitor(daemon), rec, clients, daemon._container_backend


def res(code):
    return ch.result(ch.SECOND * 1_800_000_000, ch.SECOND * 1_800_000_001, code, "")


def test_open_records_starting_and_results_change_status_with_events():
    mon, rec, clients, backend = make()
    mon.open(rec)
    prober = mon._probers[CID]
    try:
        assert clients.containers.updates[0] == {"run": RUN, "health": ch.new_health()}
        prober._record(res(1))
        assert backend.events == []                    # starting, streak 1: no change
        prober._record(res(1))
        assert backend.events == ["health_status: unhealthy"]
        prober._record(res(0))
        prober._record(res(0))
        assert backend.events == ["health_status: unhealthy", "health_status: healthy"]
        doc = clients.containers.updates[-1]
        assert doc["run"] == RUN and doc["health"]["Status"] == "healthy" and len(doc["health"]["Log"]) == 4
    finally:
        mon.stop()


def test_close_marks_unhealthy_and_drops_late_results():
    mon, rec, clients, backend = make()
    mon.open(rec)
    prober = mon._probers[CID]
    prober._record(res(0))
    mon.close(CID)
    assert clients.containers.updates[-1]["health"]["Status"] == "unhealthy"
    n = len(clients.containers.updates)
    prober._record(res(0))                             # a probe that was still running
    assert len(clients.containers.updates) == n and CID not in mon._probers


def test_open_ignores_containers_without_a_probe_or_not_running():
    mon, rec, clients, _ = make(running=False)
    mon.open(rec)
    rec.state.running = True
    rec.config_json = json.dumps({"Healthcheck": {"Test": ["NONE"]}}).encode()
    mon.open(rec)
    assert mon._probers == {} and clients.containers.updates == []


def test_probe_past_its_timeout_is_killed_and_reported():
    mon, rec, clients, backend = make()
    run = health.ProbeRun(mon, rec, ["sleep", "9"], 200_000_000, threading.Event())
    result = run.run()
    assert result["ExitCode"] == -1
    assert result["Output"] == "Health check exceeded timeout (200ms)"
    assert clients.tasks.killed == [("e1", 9)]
    assert backend.execs.ids_of(CID) == []             # the probe's exec is forgotten
    assert clients.tasks.deleted == ["e1"]             # by container-service too


def test_probe_without_command_is_an_error_result():
    mon, rec, _, _ = make()
    result = health.ProbeRun(mon, rec, [], ch.SECOND, threading.Event()).run()
    assert result["ExitCode"] == -1 and result["Output"] == "No exec command specified"
