"""Shim.StatPath/ArchiveGet/ArchivePut on a running task: files written through the shim are
seen by the container and files it writes come back out; a missing task is
FailedPrecondition (the apiserver then uses the snapshot)."""

import io
import os
import tarfile
import time

import pytest

from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, ids
from dockyard_common.testing.rootfs import make_container_rootfs

from conftest import make_spec


@pytest.fixture
def running(shim, stack):
    """A running task on its own copy of the rootfs; waits for /tmp/in.txt, copies it to
    /tmp/seen (proving the container sees what ArchivePut wrote), then sleeps."""
    root = os.path.join(stack.root, "fsroot-" + ids.new_id()[:8])
    make_container_rootfs(root)
    cid = ids.new_id()
    script = "while [ ! -f /tmp/in.txt ]; do sleep 0.05; done; cp /tmp/in.txt /tmp/seen; sleep 60"
    mount = types_pb2.Mount(type="bind", source=root, options=["rbind"])
    shim.created.append(cid)
    shim.c.Create(shim_pb2.CreateTaskRequest(id=cid, spec_json=make_spec(cid, ["sh", "-c", script]),
                                             rootfs=[mount]))
    shim.c.Start(shim.ref(cid))
    return cid


def tar_bytes(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def put(shim, cid, path, data):
    def requests():
        yield types_pb2.ArchivePutRequest(header=types_pb2.ArchivePutHeader(key=cid, path=path))
        yield types_pb2.ArchivePutRequest(data=data)
    shim.c.ArchivePut(requests())


def get(shim, cid, path):
    data = b"".join(c.data for c in shim.c.ArchiveGet(shim_pb2.PathRequest(id=cid, path=path)))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()}


def test_copy_in_and_out_of_a_running_task(shim, running):
    put(shim, running, "/tmp", tar_bytes("in.txt", b"copied-in\n"))
    deadline = time.monotonic() + 10
    while True:
        try:
            st = shim.c.StatPath(shim_pb2.PathRequest(id=running, path="/tmp/seen"))
            break
        except errors.NotFound:
            assert time.monotonic() < deadline, "the container never saw /tmp/in.txt"
            time.sleep(0.1)
    assert st.name == "seen" and st.size == 10
    assert get(shim, running, "/tmp/seen") == {"seen": b"copied-in\n"}
    st = shim.c.StatPath(shim_pb2.PathRequest(id=running, path="/bin/sh"))
    assert st.link_target == "/bin/busybox" and st.mode & (1 << 27)


def test_errors(shim, running):
    with pytest.raises(errors.NotFound):
        shim.c.StatPath(shim_pb2.PathRequest(id=running, path="/does/not/exist"))
    with pytest.raises(errors.InvalidArgument):
        put(shim, running, "/etc/passwd", tar_bytes("x", b""))
    with pytest.raises(errors.FailedPrecondition):
        shim.c.StatPath(shim_pb2.PathRequest(id="no-such-task", path="/"))
    with pytest.raises(errors.FailedPrecondition):
        get(shim, "no-such-task", "/")
