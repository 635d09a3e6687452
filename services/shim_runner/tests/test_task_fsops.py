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
from dockyard_shim.fsops import TaskFS, pseudo_devs
from dockyard_shim.monitor import FakeMonitor
from dockyard_shim.mounts import FakeMounter
from dockyard_shim.runtime import Fake
from dockyard_shim.server import ShimServicer
from dockyard_shim.tasks import RUNNING, TaskService

SPEC = json.dumps({"process": {"args": ["true"], "env": ["PATH=/bin"]}, "root": {"path": "x"}}).encode()
MOUNTS = [types_pb2.Mount(type="bind", source="/nowhere", options=["rbind"])]


PID = 4242
MOUNTINFO = """\
21 20 0:50 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
22 21 0:51 / /proc rw,nosuid - proc proc rw
23 21 0:52 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755
24 23 0:53 / /dev/pts rw - devpts devpts rw
25 21 0:54 / /sys ro - sysfs sysfs ro
26 21 0:55 / /scratch rw - tmpfs tmpfs rw
27 21 8:1 /vol/_data /data rw - ext4 /dev/sda1 rw
"""


@pytest.fixture
def shim(tmp_path):
    """A running task (status faked) whose /proc/<pid>/root is a separate "view" directory:
    the container's mount namespace, where the rootfs alone is what export reads."""
    layout = Layout(str(tmp_path / "d"), str(tmp_path / "s"))
    svc = TaskService(layout, FakeMonitor(), FakeMounter(), lambda name: Fake())
    svc.create("c1", SPEC, MOUNTS)
    task = svc._task("c1")
    task.status, task.pid = RUNNING, PID
    rootfs = os.path.join(layout.task_dir("c1"), "rootfs")
    os.makedirs(os.path.join(rootfs, "tmp"))
    with open(os.path.join(rootfs, "layer-only"), "w") as f:
        f.write("in the layer\n")
    view = tmp_path / "view"
    (view / "tmp").mkdir(parents=True)
    (view / "data").mkdir()
    (view / "etc").mkdir()
    (view / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")
    (view / "tmp" / "out.txt").write_text("made-inside\n")
    proc = tmp_path / "proc" / str(PID)
    proc.mkdir(parents=True)
    os.symlink(view, proc / "root")
    (proc / "mountinfo").write_text(MOUNTINFO)
    servicer = ShimServicer(svc, TaskFS(svc, proc=str(tmp_path / "proc")))
    return servicer, rootfs, str(view)


def test_rootfs_of_a_task_and_missing_task(shim):
    servicer, rootfs, _ = shim
    fs = TaskFS(servicer.core)
    assert fs.rootfs("c1") == rootfs
    with pytest.raises(errors.FailedPrecondition):
        fs.rootfs("nope")


def test_stat_and_get(shim):
    servicer, _, _ = shim
    st = servicer.StatPath(shim_pb2.PathRequest(id="c1", path="/tmp/out.txt"), None)
    assert st.name == "out.txt" and st.size == 12
    data = b"".join(c.data for c in servicer.ArchiveGet(shim_pb2.PathRequest(id="c1", path="/tmp/out.txt"), None))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("out.txt").read() == b"made-inside\n"
    with pytest.raises(errors.NotFound):
        servicer.StatPath(shim_pb2.PathRequest(id="c1", path="/nope"), None)


def tar_of(name, data=b"copied-in\n", uid=0):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.uid, info.gid = len(data), uid, uid
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def put_msgs(path, data, **header):
    msgs = [types_pb2.ArchivePutRequest(header=types_pb2.ArchivePutHeader(key="c1", path=path, **header))]
    return msgs + [types_pb2.ArchivePutRequest(data=data[i:i + 700]) for i in range(0, len(data), 700)]


def test_put_lands_in_the_containers_view(shim):
    servicer, rootfs, view = shim
    msgs = put_msgs("/tmp", tar_of("in.txt"))
    servicer.ArchivePut(iter(msgs), None)
    assert open(os.path.join(view, "tmp", "in.txt")).read() == "copied-in\n"
    assert not os.path.exists(os.path.join(rootfs, "tmp", "in.txt"))
    with pytest.raises(errors.InvalidArgument):
        servicer.ArchivePut(iter(msgs[1:]), None)


def test_export_reads_the_rootfs_alone(shim):
    servicer, _, _ = shim
    data = b"".join(c.data for c in servicer.ArchiveGet(shim_pb2.PathRequest(id="c1", path=""), None))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert "layer-only" in names and "data" not in names


def test_read_only_mounts_and_rootfs(shim):
    servicer, _, view = shim
    ro = [types_pb2.Mount(type="volume", source="/v", target="/data", options=["ro"])]
    rw = [types_pb2.Mount(type="volume", source="/v", target="/data", options=["rw"])]
    with pytest.raises(errors.PermissionDenied, match="mounted volume is marked read-only"):
        servicer.ArchivePut(iter(put_msgs("/data", tar_of("x"), mounts=ro)), None)
    with pytest.raises(errors.PermissionDenied, match="container rootfs is marked read-only"):
        servicer.ArchivePut(iter(put_msgs("/tmp", tar_of("x"), mounts=rw, readonly_rootfs=True)), None)
    servicer.ArchivePut(iter(put_msgs("/data", tar_of("x"), mounts=rw, readonly_rootfs=True)), None)
    assert os.path.exists(os.path.join(view, "data", "x"))
    assert not os.path.exists(os.path.join(view, "tmp", "x"))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_copy_uid_gid_chowns_to_the_containers_user(shim):
    servicer, _, view = shim
    servicer.ArchivePut(iter(put_msgs("/tmp", tar_of("kept", uid=1234))), None)
    servicer.ArchivePut(iter(put_msgs("/tmp", tar_of("a-flag", uid=1234), copy_uid_gid=True)), None)
    servicer.ArchivePut(iter(put_msgs("/tmp", tar_of("user-only", uid=1234), user="app")), None)
    servicer.ArchivePut(iter(put_msgs("/tmp", tar_of("app", uid=1234), copy_uid_gid=True, user="app")), None)
    owners = {n: os.stat(os.path.join(view, "tmp", n)).st_uid for n in ("kept", "a-flag", "user-only", "app")}
    assert owners == {"kept": 1234, "a-flag": 1234, "user-only": 1234, "app": 1000}
    with pytest.raises(errors.InvalidArgument, match="unable to find user nobody"):
        servicer.ArchivePut(iter(put_msgs("/tmp", tar_of("x"), copy_uid_gid=True, user="nobody")), None)


def test_a_task_without_a_live_process_is_failed_precondition(shim):
    servicer, _, _ = shim
    task = servicer.core._task("c1")
    task.exited.set()
    with pytest.raises(errors.FailedPrecondition):
        servicer.StatPath(shim_pb2.PathRequest(id="c1", path="/tmp"), None)
    task.exited.clear()
    task.pid = PID + 1                       # no /proc entry: the process is gone
    with pytest.raises(errors.FailedPrecondition):
        servicer.StatPath(shim_pb2.PathRequest(id="c1", path="/tmp"), None)


def test_pseudo_devs_of_mountinfo():
    devs = pseudo_devs(MOUNTINFO.splitlines())
    assert devs == {os.makedev(0, n) for n in (51, 52, 53, 54)}   # not / , /scratch, /data
