"""Fixtures for container-service integration tests: shim-runner + container-service on a private
root, busybox rootfs dirs bound as the container root, specs built by dockyard_common.oci.
Needs root, runc and conmon. Containers share the host network (netns_path=None)."""

import json
import os
import queue
import threading
import time

import pytest

from dockyard_api.containers.v1 import containers_pb2, containers_pb2_grpc
from dockyard_api.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, grpcutil, ids, oci
from dockyard_common.testing.rootfs import make_container_rootfs
from dockyard_common.testing.stack import TestStack

class Harness:
    def __init__(self, stack):
        self.stack = stack
        self.cgroup_parent = "/dy-" + stack.tag
        self.connect()

    def connect(self):
        target = self.stack.layout.grpc_target("container")
        self.containers = grpcutil.Client(containers_pb2_grpc.ContainersStub, target)
        self.tasks = grpcutil.Client(tasks_pb2_grpc.TasksStub, target)

    def restart_container_service(self):
        self.containers.channel.close()
        self.tasks.channel.close()
        self.stack.stop_service("container")
        self.stack.start_service("container")
        self.connect()

    def create(self, args, name="", user="", tty=False, host_config=None, mounts=()):
        cid = ids.new_id()
        rootfs = os.path.join(self.stack.root, "rootfs-" + cid[:12])
        make_container_rootfs(rootfs)
        config = {"Cmd": list(args), "Env": ["FOO=bar"], "Tty": tty, "User": user}
        spec = oci.build_spec(config, host_config or {}, container_id=cid, netns_path=None,
                              hostname=cid[:12], mounts=list(mounts), cgroups_path="%s/%s" % (self.cgroup_parent, cid))
        rec = containers_pb2.Container(
            id=cid, name=name, image="busybox", config_json=json.dumps(config).encode(),
            host_config_json=json.dumps(host_config or {}).encode(), spec_json=json.dumps(spec).encode(), runtime="runc",
            rootfs=[types_pb2.Mount(type="bind", source=rootfs, options=["rbind"])])
        return self.containers.Create(rec)

    def get(self, ref):
        return self.containers.Get(containers_pb2.GetContainerRequest(ref=ref))

    def ref(self, cid):
        return tasks_pb2.TaskRef(id=cid)

    def wait_state(self, cid, pred, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.tasks.Get(self.ref(cid))
            if pred(st):
                return st
            time.sleep(0.05)
        raise AssertionError("state of %s never matched: %s" % (cid, self.tasks.Get(self.ref(cid))))

    def remove_all(self):
        for rec in self.containers.List(containers_pb2.ListContainersRequest(all=True)).containers:
            if rec.state.running:
                try:
                    self.tasks.Kill(tasks_pb2.KillTaskRequest(id=rec.id, signal=9))
                    self.tasks.Wait(self.ref(rec.id), timeout=15)
                except errors.DockyardError:
                    pass
            try:
                self.containers.Delete(containers_pb2.GetContainerRequest(ref=rec.id))
            except errors.DockyardError:
                pass


class EventReader:
    """Collects Tasks.Events in a thread."""

    def __init__(self, tasks):
        self.q = queue.Queue()
        self.stream = tasks.Events(types_pb2.Empty())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for ev in self.stream:
                self.q.put(ev)
        except errors.DockyardError:
            pass

    def next_for(self, cid, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ev = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            if ev.id == cid:
                return ev
        raise AssertionError("no event for %s" % cid)

    def close(self):
        self.stream.cancel()
        self.thread.join(5)


def _remove_cgroups(parent):
    for controller in os.listdir("/sys/fs/cgroup"):
        path = os.path.join("/sys/fs/cgroup", controller, parent.lstrip("/"))
        if os.path.isdir(path):
            for sub in sorted(os.listdir(path)):
                if os.path.isdir(os.path.join(path, sub)):
                    try:
                        os.rmdir(os.path.join(path, sub))
                    except OSError:
                        pass
            try:
                os.rmdir(path)
            except OSError:
                pass


@pytest.fixture(scope="module")
def h():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    with TestStack(services=["shim", "container"]) as stack:
        harness = Harness(stack)
        try:
            yield harness
        finally:
            harness.remove_all()
    _remove_cgroups(harness.cgroup_parent)


@pytest.fixture
def events(h):
    reader = EventReader(h.tasks)
    time.sleep(0.2)  # the subscription is in place before the test acts
    yield reader
    reader.close()
