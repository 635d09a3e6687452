"""volume-service as a real process over gRPC: CRUD, references, option mounts, restarts."""

import os

import pytest

from dockyard_api.volumes.v1 import volumes_pb2 as pb
from dockyard_common import errors, mounts

C1, C2 = "a1" * 32, "b2" * 32
TMPFS = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750"}


def mount_fstype(path):
    """(fstype, super options) of the top mount at path, or None."""
    found = [(m.fstype, m.super_options) for m in mounts.mountinfo() if m.mount_point == path]
    return found[-1] if found else None


def test_create_inspect_list_remove(volumes, stack):
    v = volumes.Create(pb.CreateVolumeRequest(name="data", labels={"purpose": "it"}))
    assert v.mountpoint == os.path.join(stack.layout.volumes_dir, "data", "_data")
    assert os.path.isdir(v.mountpoint)
    assert (v.driver, v.scope, dict(v.labels)) == ("local", "local", {"purpose": "it"})
    assert volumes.Get(pb.GetVolumeRequest(name="data")) == v
    assert volumes.Create(pb.CreateVolumeRequest(name="data")) == v      # idempotent
    names = [x.name for x in volumes.List(pb.ListVolumesRequest(label_filters={"purpose": ""})).volumes]
    assert names == ["data"]
    anon = volumes.Create(pb.CreateVolumeRequest(anonymous=True))
    assert len(anon.name) == 64 and anon.anonymous
    volumes.Remove(pb.RemoveVolumeRequest(name="data"))
    assert not os.path.exists(os.path.dirname(v.mountpoint))
    with pytest.raises(errors.NotFound, match="get data: no such volume"):
        volumes.Get(pb.GetVolumeRequest(name="data"))
    with pytest.raises(errors.InvalidArgument, match="invalid characters"):
        volumes.Create(pb.CreateVolumeRequest(name="bad/name"))
    assert os.path.exists(os.path.join(stack.layout.volumes_dir, "volume.db"))


def test_in_use_volume_cannot_be_removed(volumes):
    volumes.Acquire(pb.AcquireVolumeRequest(name="used", container_id=C1, create=True))
    for force in (False, True):
        with pytest.raises(errors.FailedPrecondition) as ei:
            volumes.Remove(pb.RemoveVolumeRequest(name="used", force=force))
        assert str(ei.value) == "remove used: volume is in use - [%s]" % C1
    pruned = volumes.Prune(pb.PruneVolumesRequest(all=True))
    assert list(pruned.removed) == []
    volumes.Release(pb.ReleaseVolumeRequest(name="used", container_id=C1))
    volumes.Remove(pb.RemoveVolumeRequest(name="used"))


def test_tmpfs_volume_is_mounted_while_used(volumes):
    v = volumes.Create(pb.CreateVolumeRequest(name="scratch", driver_opts=TMPFS))
    assert mount_fstype(v.mountpoint) is None
    volumes.Acquire(pb.AcquireVolumeRequest(name="scratch", container_id=C1))
    fstype, opts = mount_fstype(v.mountpoint)
    assert fstype == "tmpfs" and "size=1024k" in opts and "mode=750" in opts
    with open(os.path.join(v.mountpoint, "f"), "w") as f:
        f.write("in tmpfs")
    volumes.Acquire(pb.AcquireVolumeRequest(name="scratch", container_id=C2))
    volumes.Release(pb.ReleaseVolumeRequest(name="scratch", container_id=C1))
    assert mount_fstype(v.mountpoint)[0] == "tmpfs"          # C2 still uses it
    volumes.Release(pb.ReleaseVolumeRequest(name="scratch", container_id=C2))
    assert mount_fstype(v.mountpoint) is None
    assert os.listdir(v.mountpoint) == []                    # tmpfs content is gone, as in Docker
    volumes.Remove(pb.RemoveVolumeRequest(name="scratch"))


def test_bind_volume_shows_the_device_and_remove_keeps_it(volumes, stack):
    host_dir = os.path.join(stack.root, "hostdata")
    os.makedirs(host_dir)
    with open(os.path.join(host_dir, "precious"), "w") as f:
        f.write("keep me")
    v = volumes.Create(pb.CreateVolumeRequest(
        name="bound", driver_opts={"type": "none", "o": "bind", "device": host_dir}))
    volumes.Acquire(pb.AcquireVolumeRequest(name="bound", container_id=C1))
    assert open(os.path.join(v.mountpoint, "precious")).read() == "keep me"
    volumes.Release(pb.ReleaseVolumeRequest(name="bound", container_id=C1))
    assert not os.path.exists(os.path.join(v.mountpoint, "precious"))
    volumes.Remove(pb.RemoveVolumeRequest(name="bound"))
    assert open(os.path.join(host_dir, "precious")).read() == "keep me"


def test_failed_mount_is_an_error_and_leaves_no_reference(volumes, stack):
    missing = os.path.join(stack.root, "not-there")
    volumes.Create(pb.CreateVolumeRequest(
        name="broken", driver_opts={"type": "none", "o": "bind", "device": missing}))
    with pytest.raises(errors.Internal, match="error while mounting volume"):
        volumes.Acquire(pb.AcquireVolumeRequest(name="broken", container_id=C1))
    assert volumes.Get(pb.GetVolumeRequest(name="broken")).ref_count == 0
    volumes.Remove(pb.RemoveVolumeRequest(name="broken"))


def test_unknown_option_is_invalid(volumes):
    with pytest.raises(errors.InvalidArgument, match='create v1: invalid option: "foo"'):
        volumes.Create(pb.CreateVolumeRequest(name="v1", driver_opts={"foo": "bar"}))
    with pytest.raises(errors.InvalidArgument, match='missing required option: "device"'):
        volumes.Create(pb.CreateVolumeRequest(name="v1", driver_opts={"type": "tmpfs"}))


def test_restart_keeps_references_and_mounts(volumes):
    plain = volumes.Acquire(pb.AcquireVolumeRequest(name="plain", container_id=C1, create=True))
    with open(os.path.join(plain.mountpoint, "f"), "w") as f:
        f.write("persisted")
    tmp = volumes.Create(pb.CreateVolumeRequest(name="tmpvol", driver_opts=TMPFS))
    volumes.Acquire(pb.AcquireVolumeRequest(name="tmpvol", container_id=C2))
    with open(os.path.join(tmp.mountpoint, "g"), "w") as f:
        f.write("still mounted")

    volumes.restart()

    v = volumes.Get(pb.GetVolumeRequest(name="plain"))
    assert list(v.users) == [C1]
    assert open(os.path.join(v.mountpoint, "f")).read() == "persisted"
    with pytest.raises(errors.FailedPrecondition, match="volume is in use"):
        volumes.Remove(pb.RemoveVolumeRequest(name="plain"))
    # the referenced tmpfs volume was left mounted, with its content
    assert mount_fstype(tmp.mountpoint)[0] == "tmpfs"
    assert open(os.path.join(tmp.mountpoint, "g")).read() == "still mounted"
    volumes.Release(pb.ReleaseVolumeRequest(name="plain", container_id=C1))
    volumes.Release(pb.ReleaseVolumeRequest(name="tmpvol", container_id=C2))
    assert mount_fstype(tmp.mountpoint) is None
    volumes.Remove(pb.RemoveVolumeRequest(name="plain"))
    volumes.Remove(pb.RemoveVolumeRequest(name="tmpvol"))


def test_restart_reconciles_mounts_with_references(volumes, stack):
    used = volumes.Create(pb.CreateVolumeRequest(name="used", driver_opts=TMPFS))
    unused = volumes.Create(pb.CreateVolumeRequest(name="unused", driver_opts=TMPFS))
    volumes.Acquire(pb.AcquireVolumeRequest(name="used", container_id=C1))
    stack.stop_service("volume")
    # while the service is down: its mount disappears, a stray one appears
    os.system("umount -l %s" % used.mountpoint)
    os.system("mount -t tmpfs tmpfs %s" % unused.mountpoint)
    assert mount_fstype(used.mountpoint) is None and mount_fstype(unused.mountpoint)
    volumes.restart()
    assert mount_fstype(used.mountpoint)[0] == "tmpfs"
    assert mount_fstype(unused.mountpoint) is None
    volumes.Release(pb.ReleaseVolumeRequest(name="used", container_id=C1))
    assert mount_fstype(used.mountpoint) is None
    pruned = volumes.Prune(pb.PruneVolumesRequest(all=True))
    assert sorted(pruned.removed) == ["unused", "used"]
