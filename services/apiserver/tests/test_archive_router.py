"""The archive routes (docker cp, export, diff) over fake shim / snapshots clients: which
service is asked, Docker's headers and error messages."""

import base64
import io
import json
import tarfile

import pytest

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors

CID = "c" * 64


def tar_bytes(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FakeFS:
    """Stands in for Shim or Snapshots: one file /tmp/f; `gone` makes it answer like a shim
    whose task was deleted."""

    def __init__(self, label, gone=False):
        self.label, self.gone = label, gone
        self.calls = []
        self.put_data = b""

    def _check(self, req_path):
        if self.gone:
            raise errors.FailedPrecondition("task does not exist")
        if req_path not in ("/tmp/f", "/tmp", ""):
            raise errors.NotFound("Could not find the file %s" % req_path)

    def StatPath(self, req):
        self.calls.append(("stat", req.path))
        self.mounts = list(getattr(req, "mounts", []))
        self._check(req.path)
        mode = (1 << 31) | 0o755 if req.path == "/tmp" else 0o644
        return types_pb2.PathStat(name=req.path.rsplit("/", 1)[-1], size=3, mode=mode,
                                  mtime="2024-01-01T00:00:00Z")

    def ArchiveGet(self, req):
        self.calls.append(("get", req.path))
        self.get_mounts = list(getattr(req, "mounts", []))

        def gen():
            self._check(req.path)
            data = tar_bytes("f", self.label.encode())
            yield types_pb2.DataChunk(data=data[:100])
            yield types_pb2.DataChunk(data=data[100:])
        return Stream(gen())

    def ArchivePut(self, it):
        first = next(it)
        self.calls.append(("put", first.header.path, first.header.key))
        self.header = first.header
        self.put_data = b"".join(m.data for m in it)
        return types_pb2.Empty()

    def Changes(self, req):
        self.calls.append(("changes", req.key))
        return snapshots_pb2.ChangesResponse(changes=[snapshots_pb2.Change(path="/etc", kind=0),
                                                      snapshots_pb2.Change(path="/new", kind=1)])


class Stream:
    def __init__(self, it):
        self.it = it
        self.cancelled = False

    def __iter__(self):
        return self

    def __next__(self):
        return next(self.it)

    def cancel(self):
        self.cancelled = True


MOUNTS = [{"Type": "volume", "Name": "vol", "Source": "/var/lib/v/vol/_data", "Destination": "/data",
           "RW": True}, {"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": False},
          {"Type": "bind", "Source": "/my/hosts", "Destination": "/etc/hosts", "RW": True}]


class FakeContainers:
    def __init__(self, running, **fields):
        self.running = running
        self.fields = fields

    def Get(self, req):
        if req.ref not in ("web", CID):
            raise errors.NotFound("container %s not found" % req.ref)
        fields = {"host_config_json": b"{}", **self.fields}
        return containers_pb2.Container(
            id=CID, name="web", image="busybox", snapshot_key=CID,
            state=containers_pb2.ContainerState(running=self.running,
                                                status="running" if self.running else "exited"),
            **fields)


@pytest.fixture
def fs(daemon):
    def setup(running, shim_gone=False, **fields):
        daemon.clients.containers = FakeContainers(running, **fields)
        daemon.clients.shim = FakeFS("shim", gone=shim_gone)
        daemon.clients.snapshots = FakeFS("snap")
        return daemon.clients
    return setup


def stat_of(resp):
    return json.loads(base64.b64decode(resp.headers["X-Docker-Container-Path-Stat"]))


def test_running_container_goes_through_the_shim(client, fs):
    c = fs(running=True)
    r = client.get("/containers/web/archive", query_string={"path": "/tmp/f"})
    assert r.status_code == 200 and r.mimetype == "application/x-tar"
    assert stat_of(r) == {"name": "f", "size": 3, "mode": 0o644, "mtime": "2024-01-01T00:00:00Z",
                          "linkTarget": ""}
    with tarfile.open(fileobj=io.BytesIO(r.data)) as tar:
        assert tar.extractfile("f").read() == b"shim"
    assert c.snapshots.calls == []


def test_stopped_container_and_vanished_task_use_the_snapshot(client, fs):
    c = fs(running=False)
    r = client.get("/containers/web/archive", query_string={"path": "/tmp/f"})
    assert r.status_code == 200 and c.shim.calls == []
    c = fs(running=True, shim_gone=True)
    r = client.get("/containers/web/archive", query_string={"path": "/tmp/f"})
    with tarfile.open(fileobj=io.BytesIO(r.data)) as tar:
        assert tar.extractfile("f").read() == b"snap"


def test_head_and_missing_paths(client, fs):
    fs(running=True)
    r = client.head("/containers/web/archive", query_string={"path": "/tmp/f"})
    assert r.status_code == 200 and stat_of(r)["name"] == "f" and r.data == b""
    r = client.head("/containers/web/archive", query_string={"path": "/does/not/exist"})
    assert r.status_code == 404
    r = client.get("/containers/web/archive", query_string={"path": "/does/not/exist"})
    assert r.status_code == 404
    assert r.get_json()["message"] == "Could not find the file /does/not/exist in container web"
    assert client.get("/containers/nope/archive", query_string={"path": "/"}).get_json()["message"] == \
        "No such container: nope"
    assert client.get("/containers/web/archive").status_code == 400


def test_put(client, fs):
    c = fs(running=True)
    body = tar_bytes("in.txt", b"copied-in\n")
    r = client.put("/containers/web/archive?path=/tmp&noOverwriteDirNonDir=true", data=body)
    assert r.status_code == 200
    assert c.shim.calls[-1] == ("put", "/tmp", CID) and c.shim.put_data == body
    r = client.put("/containers/web/archive?path=/missing", data=body)
    assert r.status_code == 404
    c = fs(running=False)
    assert client.put("/containers/web/archive?path=/tmp", data=body).status_code == 200
    assert c.snapshots.calls[-1] == ("put", "/tmp", CID)


def test_export_and_changes(client, fs, daemon):
    c = fs(running=False)
    r = client.get("/containers/web/export")
    assert r.status_code == 200 and r.mimetype == "application/x-tar"
    assert ("get", "") in c.snapshots.calls
    r = client.get("/containers/web/changes")
    assert r.get_json() == [{"Path": "/etc", "Kind": 0}, {"Path": "/new", "Kind": 1}]
    assert c.snapshots.calls[-1] == ("changes", CID)


def test_container_mounts_and_options_reach_the_services(client, fs):
    rec = dict(mounts_json=json.dumps(MOUNTS).encode(), hosts_path="/net/hosts",
               resolv_conf_path="/net/resolv.conf", host_config_json=b'{"ReadonlyRootfs": true}',
               config_json=b'{"User": "app"}')
    c = fs(running=False, **rec)
    body = tar_bytes("in.txt", b"x")
    assert client.put("/containers/web/archive?path=/tmp&copyUIDGID=1", data=body).status_code == 200
    h = c.snapshots.header
    assert [(m.type, m.source, m.target, list(m.options)) for m in h.mounts] == [
        ("volume", "/var/lib/v/vol/_data", "/data", ["rw"]), ("bind", "/srv", "/srv", ["ro"]),
        ("bind", "/my/hosts", "/etc/hosts", ["rw"]),            # the user's file wins
        ("bind", "/net/resolv.conf", "/etc/resolv.conf", ["ro"])]
    assert h.readonly_rootfs and h.copy_uid_gid and h.user == "app"
    assert [m.target for m in c.snapshots.mounts] == ["/data", "/srv", "/etc/hosts", "/etc/resolv.conf"]
    assert client.put("/containers/web/archive?path=/tmp", data=body).status_code == 200
    assert c.snapshots.header.user == "" and not c.snapshots.header.copy_uid_gid
    c = fs(running=True, **rec)
    assert client.put("/containers/web/archive?path=/tmp&copyUIDGID=1", data=body).status_code == 200
    assert c.shim.header.user == "app" and len(c.shim.header.mounts) == 4


def test_read_only_errors_are_403s_with_dockers_message(client, fs, daemon):
    # The API spec's 403 ("the volume or container rootfs is marked as read-only"); dockerd
    # itself answers a 500, but bad input is a 4xx here.
    class ReadOnly(FakeFS):
        def ArchivePut(self, it):
            next(it)
            raise errors.PermissionDenied("mounted volume is marked read-only")
    fs(running=True)
    daemon.clients.shim = ReadOnly("shim")
    r = client.put("/containers/web/archive?path=/tmp", data=tar_bytes("x", b"1"))
    assert r.status_code == 403 and r.get_json() == {"message": "mounted volume is marked read-only"}


def test_export_sends_no_mounts(client, fs):
    c = fs(running=False, mounts_json=json.dumps(MOUNTS).encode())
    client.get("/containers/web/export")
    assert c.snapshots.get_mounts == []


def test_archive_events(client, fs, daemon):
    fs(running=True)
    client.get("/containers/web/archive", query_string={"path": "/tmp/f"})
    client.head("/containers/web/archive", query_string={"path": "/tmp/f"})
    client.put("/containers/web/archive?path=/tmp", data=tar_bytes("x", b"1"))
    client.get("/containers/web/archive", query_string={"path": "/missing"})
    actions = [e["Action"] for e in daemon.events.history()]
    assert actions == ["archive-path", "extract-to-dir"]


def test_archive_mounts_leave_out_tmpfs_flags():
    from dockyard_apiserver.backend import archive_mounts
    mounts = [{"Type": "tmpfs", "Source": "", "Destination": "/tmp", "RW": True},
              {"Type": "tmpfs", "Source": "", "Destination": "/mt", "RW": True}]
    rec = containers_pb2.Container(mounts_json=json.dumps(mounts).encode(),
                                   host_config_json=b'{"Tmpfs": {"/tmp": ""}, "ReadonlyRootfs": true}')
    assert [(m.target, list(m.options)) for m in archive_mounts.container_mounts(rec)] == [("/mt", ["rw"])]
    assert archive_mounts.readonly_rootfs(rec) and archive_mounts.container_user(rec) == ""
