"""The container's init layer on a real image-service: Prepare(init_layer) puts the runtime's
mount points below the writable layer, so a fresh container's Changes are empty and its commit
holds only what it wrote; a snapshot prepared without one (a container made before init layers)
still leaves runc's mount points out of diff and commit; Remove takes the init layer along."""

import io
import json
import os
import tarfile

import pytest

from dockyard_api.images.v1 import images_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import ids

from test_image_service import Mounted, load


@pytest.fixture(scope="module")
def busybox(images, default_images):
    load(images, default_images["busybox"])
    return images.Get(images_pb2.GetImageRequest(ref="busybox"))


def changes(snapshots, key):
    return {(c.path, c.kind) for c in snapshots.Changes(snapshots_pb2.SnapshotKey(key=key)).changes}


def layer_names(images, img):
    data = b"".join(c.data for c in images.Save(images_pb2.SaveImagesRequest(refs=[img.id])))
    with tarfile.open(fileobj=io.BytesIO(data)) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        top = outer.extractfile(manifest[0]["Layers"][-1]).read()
    with tarfile.open(fileobj=io.BytesIO(top)) as tar:
        return sorted(m.name for m in tar.getmembers())


def run_as_runc(mounts, script):
    """Mount the snapshot and do what runc and the container would: script(root)."""
    with Mounted(mounts) as root:
        script(root)


def snapshot_keys(snapshots):
    return {s.key for s in snapshots.List(types_pb2.Empty()).snapshots}


def test_fresh_container_has_no_changes_and_commits_only_its_writes(images, snapshots, busybox):
    key = ids.new_id()
    resp = snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(
        key=key, parent=busybox.chain_id, init_layer=True))
    assert key + "-init" in snapshot_keys(snapshots)
    assert changes(snapshots, key) == set()

    def container(root):
        for target in ("etc/hosts", "etc/resolv.conf", "etc/hostname", ".dockerenv", "dev/console"):
            assert os.path.isfile(os.path.join(root, target)), target   # runc finds them
        assert os.readlink(os.path.join(root, "etc/mtab")) == "/proc/mounts"
        with open(os.path.join(root, "etc/foo"), "w") as f:
            f.write("hi\n")
    run_as_runc(resp.mounts, container)
    assert changes(snapshots, key) == {("/etc", 0), ("/etc/foo", 1)}
    img = images.Commit(images_pb2.CommitImageRequest(snapshot_key=key, parent_image=busybox.id,
                                                 repo_tag="initlayer:fresh"))
    assert layer_names(images, img) == ["etc", "etc/foo"]
    snapshots.Remove(snapshots_pb2.SnapshotKey(key=key))
    assert not {key, key + "-init"} & snapshot_keys(snapshots)
    images.Delete(images_pb2.DeleteImageRequest(ref="initlayer:fresh"))


def test_snapshot_without_init_layer_still_hides_runc_mount_points(images, snapshots, busybox):
    key = ids.new_id()
    resp = snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(key=key, parent=busybox.chain_id))

    def container(root):
        for target in ("etc/hosts", "etc/resolv.conf"):
            open(os.path.join(root, target), "w").close()     # runc's bind targets
        with open(os.path.join(root, "tmp/x"), "w") as f:
            f.write("x\n")
    run_as_runc(resp.mounts, container)
    got = changes(snapshots, key)
    assert ("/tmp/x", 1) in got and not {p for p, _ in got} & {"/etc/hosts", "/etc/resolv.conf"}
    img = images.Commit(images_pb2.CommitImageRequest(snapshot_key=key, parent_image=busybox.id,
                                                 repo_tag="initlayer:legacy"))
    names = layer_names(images, img)
    assert "tmp/x" in names and "etc/hosts" not in names and "etc/resolv.conf" not in names
    snapshots.Remove(snapshots_pb2.SnapshotKey(key=key))
    images.Delete(images_pb2.DeleteImageRequest(ref="initlayer:legacy"))
