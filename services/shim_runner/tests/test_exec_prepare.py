"""An exec's monitor starts once the Exec reply is sent (grpc's add_callback), or at once."""

import json

import pytest

from dockyard_api.types.v1 import types_pb2
from dockyard_common.paths import Layout
from dockyard_shim.monitor import FakeMonitor
from dockyard_shim.mounts import FakeMounter
from dockyard_shim.runtime import Fake
from dockyard_shim.tasks import TaskService

SPEC = json.dumps({"process": {"args": ["true"], "env": ["PATH=/bin"]}, "root": {"path": "x"}}).encode()
MOUNTS = [types_pb2.Mount(type="bind", source="/nowhere", options=["rbind"])]


@pytest.fixture
def env(tmp_path):
    layout = Layout(str(tmp_path / "d"), str(tmp_path / "s"))
    rt, mon, mnt = Fake(), FakeMonitor(), FakeMounter()
    return TaskService(layout, mon, mnt, lambda name: rt), rt, mon


def test_prepare_waits_for_the_deferred_launch(env):
    svc, rt, mon, *_ = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    deferred = []
    svc.exec("c1", "e1", json.dumps({"args": ["true"]}).encode(),
             defer=lambda fn: deferred.append(fn) or True)
    proc = svc._proc("c1", "e1")
    assert len(deferred) == 1 and not proc.prepared.is_set()
    deferred[0]()
    assert proc.prepared.wait(5)
    assert svc.start("c1", "e1")["status"] == "running"


def test_a_call_that_already_ended_launches_at_once(env):
    svc, rt, mon, *_ = env
    svc.create("c1", SPEC, MOUNTS)
    svc.start("c1")
    svc.exec("c1", "e1", json.dumps({"args": ["true"]}).encode(), defer=lambda fn: False)
    assert svc._proc("c1", "e1").prepared.wait(5)
