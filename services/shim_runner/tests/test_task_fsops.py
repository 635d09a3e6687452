"""The archive API on a task's rootfs (TaskFS) and its servicer methods, with fakes."""

import io
import json
import os
import tarfile

import pytest

from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors
from dockyard_common.paths import Layout
from dockyard_shim.fsops import TaskFS
from dockyard_shim.monitor import FakeMonitor
from dockyard_shim.mounts import FakeMounter
from dockyard_shim.runtime import Fake
from dockyard_shim.server import ShimServicer
from dockyard_shim.tasks import TaskService

SPEC = json.dumps({"process": {"args": ["true"], "env": ["PATH=/bin"]}, "root": {"path": "x"}}).encode()
MOUNTS = [types_pb2.Mount(type="bind", source="/nowhere", options=["rbind"])]


@pytest.fixture
def shim(tmp_path):
    layout = Layout(str(tmp_path / "d"), str(tmp_path / "s"))
    svc = TaskService(layout, FakeMonitor(), FakeMounter(), lambda name: Fake())
    svc.create("c1", SPEC, MOUNTS)
    rootfs = os.path.join(layout.task_dir("c1"), "rootfs")
    os.makedirs(os.path.join(rootfs, "tmp"))
    with open(os.path.join(rootfs, "tmp", "out.txt"), "w") as f:
        f.write("made-inside\n")
    return ShimServicer(svc), rootfs


def test_rootfs_of_a_task_and_missing_task(shim):
    servicer, rootfs = shim
    fs = TaskFS(servicer.core)
    assert fs.rootfs("c1") == rootfs
    with pytest.raises(errors.FailedPrecondition):
        fs.rootfs("nope")


def test_stat_and_get(shim):
    servicer, _ = shim
    st = servicer.StatPath(shim_pb2.PathRequest(id="c1", path="/tmp/out.txt"), None)
    assert st.name == "out.txt" and st.size == 12
    data = b"".join(c.data for c in servicer.ArchiveGet(shim_pb2.PathRequest(id="c1", path="/tmp/out.txt"), None))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("out.txt").read() == b"made-inside\n"
    with pytest.raises(errors.NotFound):
        servicer.StatPath(shim_pb2.PathRequest(id="c1", path="/nope"), None)


def test_put(shim):
    servicer, rootfs = shim
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("in.txt")
        info.size = 10
        tar.addfile(info, io.BytesIO(b"copied-in\n"))
    data = buf.getvalue()
    msgs = [types_pb2.ArchivePutRequest(header=types_pb2.ArchivePutHeader(key="c1", path="/tmp"))]
    msgs += [types_pb2.ArchivePutRequest(data=data[i:i + 700]) for i in range(0, len(data), 700)]
    servicer.ArchivePut(iter(msgs), None)
    assert open(os.path.join(rootfs, "tmp", "in.txt")).read() == "copied-in\n"
    with pytest.raises(errors.InvalidArgument):
        servicer.ArchivePut(iter(msgs[1:]), None)
