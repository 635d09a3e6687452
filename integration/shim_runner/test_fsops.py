"""Shim.StatPath/ArchiveGet/ArchivePut on a running task: files written through the shim are
seen by the container and files it writes come back out, in its bind mounts and tmpfs too (the
container's own mount namespace); read-only mounts are refused; a missing task is
FailedPrecondition (the apiserver then uses the snapshot)."""

import io
import json
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
    script = ("until grep -q copied /tmp/in.txt 2>/dev/null; do sleep 0.05; done; "
              "cp /tmp/in.txt /tmp/s; mv /tmp/s /tmp/seen; sleep 60")
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


def put(shim, cid, path, data, **header):
    def requests():
        yield types_pb2.ArchivePutRequest(header=types_pb2.ArchivePutHeader(key=cid, path=path, **header))
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
    with pytest.raises(errors.InvalidArgument, match="extraction point is not a directory"):
        put(shim, running, "/etc/passwd", tar_bytes("x", b""))
    with pytest.raises(errors.FailedPrecondition):
        shim.c.StatPath(shim_pb2.PathRequest(id="no-such-task", path="/"))
    with pytest.raises(errors.FailedPrecondition):
        get(shim, "no-such-task", "/")


@pytest.fixture
def with_mounts(shim, stack):
    """A running task with a bind mount (/bnd), a read-only one (/rob) and a tmpfs (/tm)."""
    root = os.path.join(stack.root, "fsroot-" + ids.new_id()[:8])
    make_container_rootfs(root)
    host, ro_host = root + "-bind", root + "-robind"
    os.makedirs(host)
    os.makedirs(ro_host)
    cid = ids.new_id()
    spec = json.loads(make_spec(cid, ["sleep", "60"]))
    spec["mounts"] += [
        {"destination": "/bnd", "type": "bind", "source": host, "options": ["rbind", "rw"]},
        {"destination": "/rob", "type": "bind", "source": ro_host, "options": ["rbind", "ro"]},
        {"destination": "/tm", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]
    mount = types_pb2.Mount(type="bind", source=root, options=["rbind"])
    shim.created.append(cid)
    shim.c.Create(shim_pb2.CreateTaskRequest(id=cid, spec_json=json.dumps(spec).encode(), rootfs=[mount]))
    shim.c.Start(shim.ref(cid))
    return cid, root, host, ro_host


def test_the_containers_mounts_are_seen(shim, with_mounts):
    cid, root, host, ro_host = with_mounts
    put(shim, cid, "/bnd", tar_bytes("b.txt", b"to-bind\n"))
    assert open(os.path.join(host, "b.txt"), "rb").read() == b"to-bind\n"
    put(shim, cid, "/tm", tar_bytes("t.txt", b"to-tmpfs\n"))
    assert get(shim, cid, "/tm/t.txt") == {"t.txt": b"to-tmpfs\n"}
    assert not os.path.exists(os.path.join(root, "tm", "t.txt"))        # not in the layer below
    mounts = [types_pb2.Mount(type="bind", source=ro_host, target="/rob", options=["ro"])]
    with pytest.raises(errors.PermissionDenied, match="mounted volume is marked read-only"):
        put(shim, cid, "/rob", tar_bytes("x", b""), mounts=mounts)
    with pytest.raises(errors.PermissionDenied, match="container rootfs is marked read-only"):
        put(shim, cid, "/tmp", tar_bytes("x", b""), mounts=mounts, readonly_rootfs=True)
    assert os.listdir(ro_host) == []
    assert set(get(shim, cid, "/proc")) == {"proc"}                      # listed empty
    # export (an empty path) is the rootfs alone
    data = b"".join(c.data for c in shim.c.ArchiveGet(shim_pb2.PathRequest(id=cid, path="")))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert "bin/busybox" in names and "tm/t.txt" not in names and "bnd/b.txt" not in names
