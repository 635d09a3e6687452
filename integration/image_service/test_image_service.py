"""The image service as a real process over gRPC: load, query, tag, delete, snapshots + overlay
mounts, import, save round trip and commit."""

import gzip
import io
import json
import os
import subprocess
import tarfile
import tempfile

import pytest

from dockyard_api.images.v1 import images_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors

CHUNK = 256 * 1024


def file_chunks(path):
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK)
            if not data:
                return
            yield types_pb2.DataChunk(data=data)


def load(images, path):
    return images.Load(file_chunks(path))


@pytest.fixture(scope="module")
def busybox(images, default_images):
    resp = load(images, default_images["busybox"])
    assert [list(i.repo_tags) for i in resp.images] == [["busybox:latest"]]
    return images.Get(images_pb2.GetImageRequest(ref="busybox"))


class Mounted:
    """Mount the overlay a snapshot returns (as shim-runner does) on a temp dir."""

    def __init__(self, mounts):
        assert len(mounts) == 1 and mounts[0].type == "overlay"
        self.mount = mounts[0]
        self.target = tempfile.mkdtemp(prefix="dy-mnt-")

    def __enter__(self):
        subprocess.run(["mount", "-t", self.mount.type, self.mount.source, "-o",
                        ",".join(self.mount.options), self.target], check=True)
        return self.target

    def __exit__(self, *exc):
        subprocess.run(["umount", self.target], check=True)
        os.rmdir(self.target)


def test_load_get_list(images, busybox):
    assert busybox.id.startswith("sha256:") and len(busybox.id) == 71
    assert list(busybox.repo_tags) == ["busybox:latest"]
    cfg = json.loads(busybox.config_json)
    assert cfg["config"]["Cmd"] == ["sh"]
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in cfg["config"]["Env"]
    assert busybox.size > 1_000_000 and len(busybox.diff_ids) == 1
    for ref in ("busybox:latest", "docker.io/library/busybox", busybox.id, busybox.id[7:19]):
        assert images.Get(images_pb2.GetImageRequest(ref=ref)).id == busybox.id
    listed = images.List(images_pb2.ListImagesRequest())
    assert busybox.id in [i.id for i in listed.images]


def test_missing_image_message(images):
    with pytest.raises(errors.NotFound) as ei:
        images.Get(images_pb2.GetImageRequest(ref="nosuchimage"))
    assert str(ei.value) == "No such image: nosuchimage:latest"
    with pytest.raises(errors.InvalidArgument):
        images.Tag(images_pb2.TagImageRequest(ref="busybox", target="Bad:Name"))


def test_load_same_archive_twice_is_idempotent(images, busybox, default_images):
    resp = load(images, default_images["busybox"])
    assert resp.images[0].id == busybox.id


def test_tag_and_delete(images, busybox):
    img = images.Tag(images_pb2.TagImageRequest(ref="busybox", target="localhost:5000/x/y:t"))
    assert "localhost:5000/x/y:t" in img.repo_tags
    with pytest.raises(errors.Conflict, match="must be forced"):
        images.Delete(images_pb2.DeleteImageRequest(ref=busybox.id))
    resp = images.Delete(images_pb2.DeleteImageRequest(ref="localhost:5000/x/y:t"))
    assert [(i.untagged, i.deleted) for i in resp.items] == [("localhost:5000/x/y:t", "")]
    assert images.Get(images_pb2.GetImageRequest(ref="busybox")).id == busybox.id


def test_hello_world_load_delete(images, default_images):
    resp = load(images, default_images["hello-world"])
    image_id = resp.images[0].id
    cfg = json.loads(images.Get(images_pb2.GetImageRequest(ref="hello-world")).config_json)
    assert cfg["config"]["Cmd"] == ["/hello"]
    items = images.Delete(images_pb2.DeleteImageRequest(ref="hello-world")).items
    assert items[0].untagged == "hello-world:latest" and items[1].deleted == image_id
    with pytest.raises(errors.NotFound, match="No such image: hello-world:latest"):
        images.Get(images_pb2.GetImageRequest(ref="hello-world"))


def test_snapshot_overlay_mount(snapshots, busybox):
    key = "ctr-" + os.urandom(4).hex()
    resp = snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(key=key, parent=busybox.chain_id))
    with pytest.raises(errors.Conflict):
        snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(key=key, parent=busybox.chain_id))
    assert list(snapshots.Mounts(snapshots_pb2.SnapshotKey(key=key)).mounts) == list(resp.mounts)
    with Mounted(resp.mounts) as root:
        assert os.access(os.path.join(root, "bin/busybox"), os.X_OK)
        out = subprocess.run(["chroot", root, "/bin/sh", "-c", "echo hi > /tmp/x; cat /etc/passwd | head -1"],
                             check=True, capture_output=True, text=True).stdout
        assert out == "root:x:0:0:root:/root:/bin/sh\n"
    usage = snapshots.Usage(snapshots_pb2.SnapshotKey(key=key))
    assert usage.size == 3 and usage.inodes >= 3
    kinds = {s.key: s.kind for s in snapshots.List(types_pb2.Empty()).snapshots}
    assert kinds[key] == "active" and kinds[busybox.chain_id] == "committed"
    snapshots.Remove(snapshots_pb2.SnapshotKey(key=key))
    with pytest.raises(errors.NotFound):
        snapshots.Mounts(snapshots_pb2.SnapshotKey(key=key))


def test_empty_parent_snapshot_mounts(snapshots):
    resp = snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(key="scratch-1", parent=""))
    with Mounted(resp.mounts) as root:
        assert os.listdir(root) == []
    snapshots.Remove(snapshots_pb2.SnapshotKey(key="scratch-1"))


def _rootfs_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("marker")
        data = b"imported-marker\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_import(images):
    data = gzip.compress(_rootfs_tar())
    header = images_pb2.ImportHeader(repo_tag="imported/thing:v1", message="from a test",
                                     config_json=json.dumps({"Cmd": ["cat", "/marker"]}).encode())
    reqs = [images_pb2.ImportImageRequest(header=header)] + [
        images_pb2.ImportImageRequest(data=data[i:i + 100]) for i in range(0, len(data), 100)]
    img = images.Import(iter(reqs))
    assert list(img.repo_tags) == ["imported/thing:v1"]
    cfg = json.loads(img.config_json)
    assert cfg["config"]["Cmd"] == ["cat", "/marker"] and cfg["history"][0]["comment"] == "from a test"
    hist = images.History(images_pb2.GetImageRequest(ref="imported/thing:v1")).entries
    assert [h.id for h in hist] == [img.id] and hist[0].comment == "from a test"
    images.Delete(images_pb2.DeleteImageRequest(ref="imported/thing:v1"))


def test_save_load_round_trip(images, busybox):
    images.Tag(images_pb2.TagImageRequest(ref="busybox", target="roundtrip:v1"))
    data = b"".join(c.data for c in images.Save(images_pb2.SaveImagesRequest(refs=["roundtrip:v1"])))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["roundtrip:v1"]
    images.Delete(images_pb2.DeleteImageRequest(ref="roundtrip:v1"))
    with pytest.raises(errors.NotFound):
        images.Get(images_pb2.GetImageRequest(ref="roundtrip:v1"))
    chunks = [types_pb2.DataChunk(data=data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]
    resp = images.Load(iter(chunks))
    assert resp.images[0].id == busybox.id and list(resp.images[0].repo_tags) == ["roundtrip:v1"]
    images.Delete(images_pb2.DeleteImageRequest(ref="roundtrip:v1"))


def test_commit_changed_snapshot(images, snapshots, busybox):
    key = "commit-" + os.urandom(4).hex()
    resp = snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(key=key, parent=busybox.chain_id))
    with Mounted(resp.mounts) as root:
        subprocess.run(["chroot", root, "/bin/sh", "-c", "echo layer2 > /layer2; rm /etc/group; "
                        "rm -rf /home; mkdir /home; echo new > /home/file"], check=True)
    img = images.Commit(images_pb2.CommitImageRequest(
        snapshot_key=key, parent_image=busybox.id, config_json=json.dumps({"Cmd": ["cat", "/layer2"]}).encode(),
        repo_tag="committed:v1", comment="second layer", created_by="/bin/sh -c echo layer2 > /layer2"))
    snapshots.Remove(snapshots_pb2.SnapshotKey(key=key))
    assert img.parent == busybox.id and len(img.diff_ids) == 2
    hist = images.History(images_pb2.GetImageRequest(ref="committed:v1")).entries
    assert [h.id for h in hist] == [img.id, busybox.id]
    assert hist[0].comment == "second layer" and hist[0].size > 0
    # a container from the new image sees the changes, whiteouts included
    key2 = "run-" + os.urandom(4).hex()
    resp = snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(key=key2, parent=img.chain_id))
    try:
        with Mounted(resp.mounts) as root:
            assert open(os.path.join(root, "layer2")).read() == "layer2\n"
            assert not os.path.exists(os.path.join(root, "etc/group"))
            assert os.listdir(os.path.join(root, "home")) == ["file"]
            assert os.path.exists(os.path.join(root, "etc/passwd"))
    finally:
        snapshots.Remove(snapshots_pb2.SnapshotKey(key=key2))
    # save/load of a two-layer image keeps its id
    data = b"".join(c.data for c in images.Save(images_pb2.SaveImagesRequest(refs=["committed:v1"])))
    items = images.Delete(images_pb2.DeleteImageRequest(ref="committed:v1")).items
    assert any(i.deleted == img.id for i in items)
    assert images.Get(images_pb2.GetImageRequest(ref="busybox")).id == busybox.id
    resp = images.Load(iter([types_pb2.DataChunk(data=data)]))
    assert resp.images[0].id == img.id
    images.Delete(images_pb2.DeleteImageRequest(ref="committed:v1"))


def test_restart_keeps_images(stack, images, busybox):
    stack.stop_service("image")
    stack.start_service("image")
    assert images.Get(images_pb2.GetImageRequest(ref="busybox")).id == busybox.id
