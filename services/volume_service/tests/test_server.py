"""The servicer over a real gRPC server on a unix socket (no root needed)."""

import pytest

from dockyard_api.volumes.v1 import volumes_pb2 as pb
from dockyard_api.volumes.v1 import volumes_pb2_grpc
from dockyard_common import errors, grpcutil
from dockyard_volumes.server import VolumesServicer
from dockyard_volumes.store import VolumeStore


@pytest.fixture
def client(tmp_path, mounter):
    store = VolumeStore(str(tmp_path / "volumes"), mounter=mounter)
    server = grpcutil.Server(str(tmp_path / "volume.sock"), max_workers=4)
    server.add(volumes_pb2_grpc.add_VolumesServicer_to_server, VolumesServicer(store),
               "dockyard_api.volumes.v1.Volumes")
    server.start()
    server.ready()
    c = grpcutil.Client(volumes_pb2_grpc.VolumesStub, str(tmp_path / "volume.sock"))
    yield c
    c.channel.close()
    server.stop(0)
    store.close()


def test_round_trip(client):
    v = client.Create(pb.CreateVolumeRequest(name="data", labels={"a": "b"}))
    assert (v.name, v.driver, v.scope, dict(v.labels)) == ("data", "local", "local", {"a": "b"})
    assert client.Get(pb.GetVolumeRequest(name="data")) == v
    a = client.Acquire(pb.AcquireVolumeRequest(name="data", container_id="c" * 64))
    assert a.ref_count == 1 and list(a.users) == ["c" * 64] and a.mountpoint == v.mountpoint
    assert [x.name for x in client.List(pb.ListVolumesRequest(label_filters={"a": "b"})).volumes] \
        == ["data"]
    assert client.List(pb.ListVolumesRequest(dangling_only=True)).volumes == []
    with pytest.raises(errors.FailedPrecondition, match="remove data: volume is in use"):
        client.Remove(pb.RemoveVolumeRequest(name="data"))
    client.Release(pb.ReleaseVolumeRequest(name="data", container_id="c" * 64))
    resp = client.Prune(pb.PruneVolumesRequest(all=True))
    assert list(resp.removed) == ["data"] and resp.space_reclaimed == 0


def test_errors_map_to_codes(client):
    with pytest.raises(errors.NotFound, match="get nope: no such volume"):
        client.Get(pb.GetVolumeRequest(name="nope"))
    with pytest.raises(errors.InvalidArgument, match="too short"):
        client.Create(pb.CreateVolumeRequest(name="x"))
    with pytest.raises(errors.InvalidArgument, match="invalid option"):
        client.Create(pb.CreateVolumeRequest(name="xy", driver_opts={"bogus": "1"}))
    with pytest.raises(errors.NotFound, match="get nope: no such volume"):
        client.Remove(pb.RemoveVolumeRequest(name="nope"))
    client.Remove(pb.RemoveVolumeRequest(name="nope", force=True))
    anon = client.Acquire(pb.AcquireVolumeRequest(container_id="d" * 64, create=True, anonymous=True))
    assert len(anon.name) == 64 and anon.anonymous


def test_list_reports_sizes_only_when_asked(client):
    import os
    v = client.Create(pb.CreateVolumeRequest(name="sized"))
    with open(os.path.join(v.mountpoint, "f"), "wb") as f:
        f.write(b"abc")
    os.makedirs(os.path.join(v.mountpoint, "d"))
    with open(os.path.join(v.mountpoint, "d", "g"), "wb") as f:
        f.write(b"12345")
    os.link(os.path.join(v.mountpoint, "f"), os.path.join(v.mountpoint, "hard"))  # counted once
    assert [x.size for x in client.List(pb.ListVolumesRequest(with_size=True)).volumes] == [8]
    assert [x.size for x in client.List(pb.ListVolumesRequest()).volumes] == [-1]
