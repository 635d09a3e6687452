"""Snapshots.StatPath/ArchiveGet/ArchivePut/Changes on a real image-service: the snapshot is
mounted privately for each call, with the container's volumes and binds bound on it when the
request names them, and always unmounted again."""

import io
import os
import tarfile

import pytest

from dockyard_api.images.v1 import images_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, ids

from test_image_service import Mounted, load


@pytest.fixture(scope="module")
def busybox(images, default_images):
    load(images, default_images["busybox"])
    return images.Get(images_pb2.GetImageRequest(ref="busybox"))


@pytest.fixture
def snap(snapshots, busybox, stack):
    key = ids.new_id()
    snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(key=key, parent=busybox.chain_id))
    yield key
    snapshots.Remove(snapshots_pb2.SnapshotKey(key=key))
    assert mounts_under(stack.root) == []


def mounts_under(root):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(root)]


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def put(snapshots, key, path, data, chunk=1000):
    def requests():
        yield types_pb2.ArchivePutRequest(header=types_pb2.ArchivePutHeader(key=key, path=path))
        for i in range(0, len(data), chunk):
            yield types_pb2.ArchivePutRequest(data=data[i:i + chunk])
    return snapshots.ArchivePut(requests())


def get(snapshots, key, path):
    data = b"".join(c.data for c in snapshots.ArchiveGet(snapshots_pb2.PathRequest(key=key, path=path)))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()}


def test_put_get_stat_roundtrip(snapshots, snap, stack):
    put(snapshots, snap, "/tmp", tar_bytes({"sdk/": None, "sdk/file.txt": b"via put\n"}))
    st = snapshots.StatPath(snapshots_pb2.PathRequest(key=snap, path="/tmp/sdk/file.txt"))
    assert (st.name, st.size, st.mode) == ("file.txt", 8, 0o644)
    assert get(snapshots, snap, "/tmp/sdk") == {"sdk": None, "sdk/file.txt": b"via put\n"}
    # the lower layers are visible through the private overlay
    assert "busybox" in get(snapshots, snap, "/bin/busybox")
    assert mounts_under(stack.root) == []


def test_export_names_and_missing_paths(snapshots, snap):
    names = get(snapshots, snap, "")
    assert "bin/busybox" in names and not any(n.startswith("/") for n in names)
    with pytest.raises(errors.NotFound):
        snapshots.StatPath(snapshots_pb2.PathRequest(key=snap, path="/does/not/exist"))
    with pytest.raises(errors.NotFound):
        get(snapshots, snap, "/does/not/exist")
    with pytest.raises(errors.NotFound):
        put(snapshots, snap, "/does/not/exist", tar_bytes({"a": b""}))
    with pytest.raises(errors.InvalidArgument, match="extraction point is not a directory"):
        put(snapshots, snap, "/bin/busybox", tar_bytes({"a": b""}))
    with pytest.raises(errors.NotFound):
        snapshots.StatPath(snapshots_pb2.PathRequest(key="no-such-snapshot", path="/"))


def test_changes(snapshots, snap, stack):
    put(snapshots, snap, "/", tar_bytes({"newfile": b"new\n", "var/x/": None, "var/x/y": b""}))
    put(snapshots, snap, "/etc", tar_bytes({"passwd": b"root:x:0:0::/root:/bin/sh\nextra\n"}))
    got = {(c.path, c.kind) for c in snapshots.Changes(snapshots_pb2.SnapshotKey(key=snap)).changes}
    assert {("/newfile", 1), ("/var/x", 1), ("/var/x/y", 1), ("/etc/passwd", 0)} <= got
    # a deletion made inside the overlay shows up as a whiteout
    mounts = snapshots.Mounts(snapshots_pb2.SnapshotKey(key=snap)).mounts
    with Mounted(mounts) as root:
        os.unlink(os.path.join(root, "etc", "group"))
    got = {(c.path, c.kind) for c in snapshots.Changes(snapshots_pb2.SnapshotKey(key=snap)).changes}
    assert ("/etc/group", 2) in got and ("/etc", 0) in got


def test_binds_give_the_containers_view(snapshots, snap, stack, tmp_path):
    vol, ro = tmp_path / "vol", tmp_path / "ro"
    vol.mkdir()
    ro.mkdir()
    (vol / "in-volume").write_text("from the volume\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    binds = [types_pb2.Mount(type="volume", source=str(vol), target="/data", options=["rw"]),
             types_pb2.Mount(type="bind", source=str(ro), target="/data/ro", options=["ro"]),
             types_pb2.Mount(type="bind", source=str(hosts), target="/etc/hosts", options=["rw"]),
             types_pb2.Mount(type="tmpfs", target="/scratch", options=["rw"])]
    req = snapshots_pb2.PathRequest(key=snap, path="/data/in-volume", mounts=binds)
    assert snapshots.StatPath(req).size == 16
    data = b"".join(c.data for c in snapshots.ArchiveGet(
        snapshots_pb2.PathRequest(key=snap, path="/etc/hosts", mounts=binds)))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("hosts").read() == b"127.0.0.1 localhost\n"

    def put_with(path, **header):
        def requests():
            yield types_pb2.ArchivePutRequest(header=types_pb2.ArchivePutHeader(
                key=snap, path=path, mounts=binds, **header))
            yield types_pb2.ArchivePutRequest(data=tar_bytes({"new.txt": b"put\n"}))
        return snapshots.ArchivePut(requests())

    put_with("/data", readonly_rootfs=True)
    assert (vol / "new.txt").read_text() == "put\n"
    with pytest.raises(errors.PermissionDenied, match="mounted volume is marked read-only"):
        put_with("/data/ro")
    with pytest.raises(errors.PermissionDenied, match="container rootfs is marked read-only"):
        put_with("/tmp", readonly_rootfs=True)
    assert os.listdir(ro) == []
    # without the binds the layer below is what is seen: the volume's files are not there
    with pytest.raises(errors.NotFound):
        snapshots.StatPath(snapshots_pb2.PathRequest(key=snap, path="/data/new.txt"))
    assert mounts_under(stack.root) == []
