"""ImageStore without gRPC: load, get, list, tag, delete, history, import, save, commit."""

import gzip
import io
import json
import os
import stat
import tarfile

import pytest

from dockyard_common import errors
from dockyard_images.images import chain_ids
from helpers import chunks, digest, docker_archive, entry, image_config, make_tar, oci_archive

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay whiteouts)")

L1 = make_tar([entry("bin", "dir"), entry("bin/busybox", data=b"\x7fELF" + b"b" * 2000, mode=0o755),
               entry("bin/sh", "symlink", linkname="/bin/busybox")])
L2 = make_tar([entry("etc", "dir"), entry("etc/motd", data=b"hello\n")])


def load(store, images):
    return store.load(chunks(docker_archive(images), 4096))


def test_chain_ids():
    a, b = digest(b"a"), digest(b"b")
    import hashlib
    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256((a + " " + b).encode()).hexdigest()]


def test_load_and_get(store):
    loaded = load(store, [([L1, L2], ["busybox:latest"], None)])
    image_id = digest(image_config([L1, L2]))
    assert loaded == [{"id": image_id, "repo_tags": ["busybox:latest"]}]
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox:latest", image_id,
                image_id[7:], image_id[7:19], image_id[7:9], "sha256:" + image_id[7:19]):
        assert store.get(ref).id == image_id, ref
    img = store.get("busybox")
    assert img.repo_tags == ["busybox:latest"]
    assert img.diff_ids == [digest(L1), digest(L2)]
    assert img.chain_id == chain_ids(img.diff_ids)[-1]
    # as dockerd's overlay2 DiffSize: regular files and symlinks (their target's length)
    assert img.size == 2004 + len("/bin/busybox") + 6
    assert img.created == "2024-01-01T00:00:00Z"
    # layers are unpacked once, as committed snapshots
    fs = store.snapshots.fs_path(chain_ids(img.diff_ids)[0])
    assert os.readlink(os.path.join(fs, "bin/sh")) == "/bin/busybox"
    assert os.listdir(store.content.ingest_dir) == []


def test_get_missing_wording(store):
    with pytest.raises(errors.NotFound, match="^No such image: busybox:latest$"):
        store.get("busybox")
    with pytest.raises(errors.NotFound, match="^No such image: foo/bar:v1$"):
        store.get("docker.io/foo/bar:v1")
    with pytest.raises(errors.NotFound, match="^No such image: sha256:" + "a" * 64):
        store.get("a" * 64)
    with pytest.raises(errors.InvalidArgument):
        store.get("Not Valid")


def test_shared_layers_unpacked_once(store):
    load(store, [([L1], ["a:1"], None), ([L1, L2], ["b:1"], None)])
    committed = [s for s in store.snapshots.list() if s["kind"] == "committed"]
    assert len(committed) == 2
    # loading again is idempotent
    load(store, [([L1, L2], ["b:1"], None)])
    assert len(store.snapshots.list()) == 2


def test_load_oci_archive_gzip(store):
    data = oci_archive([L1, L2], "docker.io/library/ocitest:v1", gzip_layers=True)
    loaded = store.load(chunks(data))
    assert loaded[0]["repo_tags"] == ["ocitest:v1"]
    assert store.get("ocitest:v1").diff_ids == [digest(L1), digest(L2)]


def test_load_rejects_wrong_layer(store):
    bad_config = image_config([L1])
    data = docker_archive([([L2], ["bad:1"], bad_config)])
    with pytest.raises(errors.InvalidArgument, match="digest mismatch"):
        store.load(chunks(data))
    assert store.content.list() == [] and store.snapshots.list() == []
    with pytest.raises(errors.InvalidArgument):
        store.load([b"garbage" * 1000])


def test_tag_and_list(store):
    load(store, [([L1], ["busybox:latest"], None)])
    img = store.tag("busybox", "localhost:5000/x/y:t")
    assert img.repo_tags == ["busybox:latest", "localhost:5000/x/y:t"]
    store.tag("busybox", "other")
    assert "other:latest" in store.get("other").repo_tags
    with pytest.raises(errors.InvalidArgument):
        store.tag("busybox", "BAD")
    with pytest.raises(errors.NotFound):
        store.tag("nope", "x")
    assert [i.id for i in store.list()] == [img.id]


def test_delete_untag_then_delete(store):
    load(store, [([L1], ["a:1", "a:2"], None)])
    image_id = store.get("a:1").id
    assert store.delete("a:1") == [{"untagged": "a:1:1".replace(":1:1", ":1")}]
    assert store.get("a:2").id == image_id
    items = store.delete("a:2")
    assert items[0] == {"untagged": "a:2"}
    assert items[1] == {"deleted": image_id}
    # the released layer (chain id) with its diff size: its regular files and symlinks
    assert {"deleted": digest(L1), "size": 4 + 2000 + len("/bin/busybox")} in items
    assert store.list(all=True) == [] and store.content.list() == []
    assert store.snapshots.list() == []


def test_delete_by_id_conflicts_with_several_tags(store):
    load(store, [([L1], ["a:1", "b:1"], None)])
    image_id = store.get("a:1").id
    with pytest.raises(errors.Conflict) as ei:
        store.delete(image_id[7:19])
    assert str(ei.value) == ("conflict: unable to delete %s (must be forced) - "
                             "image is referenced in multiple repositories" % image_id[7:19])
    items = store.delete(image_id[7:19], force=True)
    assert [i for i in items if "untagged" in i] == [{"untagged": "a:1"}, {"untagged": "b:1"}]
    assert {"deleted": image_id} in items


def test_delete_by_id_single_tag(store):
    load(store, [([L1], ["a:1"], None)])
    image_id = store.get("a:1").id
    items = store.delete(image_id)
    assert items[:2] == [{"untagged": "a:1"}, {"deleted": image_id}]


def test_import_plain_and_gzip(store):
    rootfs = make_tar([entry("marker", data=b"imported\n")])
    header = {"repo_tag": "imp:v1", "config_json": json.dumps({"Cmd": ["cat", "/marker"]}).encode(),
              "message": "imported for tests"}
    img = store.import_(header, chunks(gzip.compress(rootfs)))
    cfg = img.config_json
    assert img.repo_tags == ["imp:v1"]
    assert cfg["config"] == {"Cmd": ["cat", "/marker"]}
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": [digest(rootfs)]}
    assert cfg["history"][0]["comment"] == "imported for tests"
    assert cfg["comment"] == "imported for tests"
    assert cfg["os"] == "linux" and cfg["architecture"] == "amd64"
    hist = store.history("imp:v1")
    assert len(hist) == 1 and hist[0]["id"] == img.id and hist[0]["comment"] == "imported for tests"
    assert hist[0]["tags"] == ["imp:v1"] and hist[0]["size"] == 9


def test_import_rejects_non_tar(store):
    with pytest.raises(errors.InvalidArgument):
        store.import_({}, [b"not a tar at all" * 100])
    assert store.content.list() == []


def test_tar_errors_and_empty_import_as_dockerd(store):
    # dockerd: Go's tar reader error behind "Error processing tar file"; an empty stream is an
    # empty layer
    with pytest.raises(errors.InvalidArgument) as ei:
        store.import_({}, [b"x" * 2000])
    assert ei.value.message == "Error processing tar file(exit status 1): archive/tar: invalid tar header"
    with pytest.raises(errors.InvalidArgument) as ei:
        store.import_({}, [b"notatar\n"])
    assert ei.value.message == "Error processing tar file(exit status 1): unexpected EOF"
    with pytest.raises(errors.InvalidArgument) as ei:
        store.load([b"notatar\n"])
    assert ei.value.message == "Error processing tar file(exit status 1): unexpected EOF"
    img = store.import_({"repo_tag": "empty:1"}, [])
    assert img.size == 0 and len(img.diff_ids) == 1


def test_save_repositories_keys_sorted(store):
    load(store, [([L1], ["zz/b:1", "aa/a:1"], None)])
    data = b"".join(store.save(["zz/b:1", "aa/a:1"]))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        raw = tar.extractfile("repositories").read()
    assert list(json.loads(raw)) == ["aa/a", "zz/b"] and raw.endswith(b"}\n")


def test_save_round_trip(store, tmp_path):
    load(store, [([L1, L2], ["busybox:latest"], None)])
    image_id = store.get("busybox").id
    data = b"".join(store.save(["busybox"]))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["busybox:latest"]
        assert len(manifest[0]["Layers"]) == 2
        for name in manifest[0]["Layers"] + [manifest[0]["Config"]]:
            tar.getmember(name)
        assert json.load(tar.extractfile("repositories"))["busybox"]["latest"]
    store.delete("busybox")
    assert store.load(chunks(data, 65536)) == [{"id": image_id, "repo_tags": ["busybox:latest"]}]
    # by id: no tags
    data = b"".join(store.save([image_id[7:19]]))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] is None
    with pytest.raises(errors.NotFound):
        store.save(["missing"])


def _commit_fixture(store):
    load(store, [([L1, L2], ["base:latest"], None)])
    base = store.get("base")
    store.snapshots.prepare("c1", base.chain_id)
    upper = store.snapshots.fs_path("c1")
    with open(os.path.join(upper, "layer2"), "w") as f:
        f.write("layer2\n")
    return base, upper


def test_commit_and_history(store):
    base, _ = _commit_fixture(store)
    img = store.commit("c1", base.id, json.dumps({"Cmd": ["cat", "/layer2"]}).encode(), "committed:v1",
                       comment="second layer", author="me", created_by="sh -c echo layer2 > /layer2")
    assert img.parent == base.id
    assert img.diff_ids[:2] == base.diff_ids and len(img.diff_ids) == 3
    cfg = img.config_json
    assert cfg["history"][-1]["comment"] == "second layer"
    assert cfg["config"]["Cmd"] == ["cat", "/layer2"]
    fs = store.snapshots.fs_path(img.chain_id)
    assert open(os.path.join(fs, "layer2")).read() == "layer2\n"
    hist = store.history("committed:v1")
    assert [h["id"] for h in hist] == [img.id, base.id, "<missing>"]
    assert hist[0]["created_by"] == "sh -c echo layer2 > /layer2" and hist[0]["size"] == 7
    assert hist[1]["tags"] == ["base:latest"]
    # the base image now has a child: deleting it by id is a hard conflict
    with pytest.raises(errors.Conflict, match="cannot be forced"):
        store.delete(base.id, force=True)
    # untagging the base leaves it as an (intermediate) image
    assert store.delete("base") == [{"untagged": "base:latest"}]
    assert [i.id for i in store.list()] == [img.id]
    assert {i.id for i in store.list(all=True)} == {img.id, base.id}
    # deleting the child prunes the untagged parent too
    store.snapshots.remove("c1")
    items = store.delete("committed:v1")
    assert {"deleted": img.id} in items and {"deleted": base.id} in items
    assert store.list(all=True) == [] and store.snapshots.list() == [] and store.content.list() == []


@root_only
def test_commit_whiteouts(store):
    base, upper = _commit_fixture(store)
    os.mknod(os.path.join(upper, "etc"), stat.S_IFCHR, os.makedev(0, 0))   # rm -rf /etc
    os.mkdir(os.path.join(upper, "bin"))
    os.setxattr(os.path.join(upper, "bin"), "trusted.overlay.opaque", b"y")
    img = store.commit("c1", base.id)
    with store.content.open(img.diff_ids[-1]) as f, tarfile.open(fileobj=f) as tar:
        names = tar.getnames()
    assert ".wh.etc" in names and "bin/.wh..wh..opq" in names and "layer2" in names
    fs = store.snapshots.fs_path(img.chain_id)
    assert stat.S_ISCHR(os.lstat(os.path.join(fs, "etc")).st_mode)
    assert os.getxattr(os.path.join(fs, "bin"), "trusted.overlay.opaque") == b"y"


def test_commit_requires_active_snapshot(store):
    with pytest.raises(errors.NotFound):
        store.commit("nope", "")


def test_snapshots_prepare_mounts_remove(store):
    load(store, [([L1, L2], ["base:latest"], None)])
    base = store.get("base")
    mounts = store.snapshots.prepare("k1", base.chain_id)
    assert len(mounts) == 1 and mounts[0]["type"] == "overlay" and mounts[0]["source"] == "overlay"
    opts = mounts[0]["options"]
    lowers = opts[0][len("lowerdir="):].split(":")
    chains = chain_ids(base.diff_ids)
    assert lowers == [store.snapshots.fs_path(chains[1]), store.snapshots.fs_path(chains[0])]
    assert opts[1] == "upperdir=" + store.snapshots.fs_path("k1")
    assert opts[2].startswith("workdir=") and os.path.isdir(opts[2][8:])
    assert store.snapshots.mounts("k1") == mounts
    with pytest.raises(errors.Conflict):
        store.snapshots.prepare("k1", base.chain_id)
    with pytest.raises(errors.NotFound):
        store.snapshots.prepare("k2", "sha256:" + "0" * 64)
    empty = store.snapshots.prepare("k3", "")
    assert empty[0]["options"][0] == "lowerdir=" + store.snapshots.empty_dir
    with open(os.path.join(store.snapshots.fs_path("k1"), "f"), "w") as f:
        f.write("12345")
    size, inodes = store.snapshots.usage("k1")
    assert size == 5 and inodes == 2
    # a committed layer used by an active snapshot survives image deletion
    store.delete("base")
    assert store.snapshots.exists(chains[1])
    store.snapshots.remove("k1")
    store.snapshots.remove("k3")
    with pytest.raises(errors.NotFound):
        store.snapshots.mounts("k1")
    store.gc()
    assert store.snapshots.list() == []


def test_restore_cleans_leftovers(store):
    os.makedirs(os.path.join(store.snapshots.root, "new-abc", "fs"))
    os.makedirs(os.path.join(store.snapshots.root, "999", "fs"))
    open(os.path.join(store.content.ingest_dir, "blob-x"), "w").close()
    store.restore()
    assert not os.path.exists(os.path.join(store.snapshots.root, "new-abc"))
    assert not os.path.exists(os.path.join(store.snapshots.root, "999"))
    assert os.listdir(store.content.ingest_dir) == []


def test_commit_empty_layer(store):
    load(store, [([L1], ["base:latest"], None)])
    base = store.get("base")
    img = store.commit("", base.id, json.dumps({"Env": ["A=1"]}).encode(), "cfg:v1",
                       created_by="/bin/sh -c #(nop) ENV A=1", empty_layer=True)
    assert img.diff_ids == base.diff_ids and img.chain_id == base.chain_id and img.parent == base.id
    hist = store.history("cfg:v1")
    assert [(h["id"], h["empty_layer"], h["size"]) for h in hist] == [
        (img.id, True, 0), (base.id, False, 2004 + len("/bin/busybox"))]


def test_commit_checks_snapshot_parent(store):
    base, _ = _commit_fixture(store)
    with pytest.raises(errors.InvalidArgument, match="not prepared from"):
        store.commit("c1", "")
    store.snapshots.prepare("c2", "")
    with pytest.raises(errors.InvalidArgument, match="not prepared from"):
        store.commit("c2", base.id)
    with pytest.raises(errors.InvalidArgument, match="not active"):
        store.commit(base.chain_id, base.id)
