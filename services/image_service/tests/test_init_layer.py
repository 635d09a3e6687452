"""The container's init layer (Docker's "<id>-init"): its contents over various images, its
lifecycle next to the active snapshot, and docker diff / commit of a container seeing an empty
writable layer. Unit tests run unprivileged: ownership is not checked."""

import json
import os
import stat
import tarfile

import pytest

from dockyard_common import errors
from dockyard_images import fsops, initlayer
from helpers import chunks, docker_archive, entry, make_tar

A, C = fsops.KIND_ADDED, fsops.KIND_MODIFIED
BUSYBOX = make_tar([entry("bin", "dir"), entry("bin/sh", data=b"sh", mode=0o755),
                    entry("dev", "dir"), entry("proc", "dir"), entry("etc", "dir", mode=0o750),
                    entry("etc/hostname", data=b"busybox\n"), entry("etc/passwd", data=b"root\n"),
                    entry("tmp", "dir", mode=0o1777)])


def kind_of(path):
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "-> " + os.readlink(path)
    if stat.S_ISDIR(st.st_mode):
        return "dir %o" % stat.S_IMODE(st.st_mode)
    return "file %o %d" % (stat.S_IMODE(st.st_mode), st.st_size)


def listing(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = kind_of(full)
    return out


def make_lower(tmp_path, build):
    lower = tmp_path / "lower"
    lower.mkdir()
    build(lower)
    layer = tmp_path / "init"
    layer.mkdir()
    initlayer.populate(str(layer), [str(lower)])
    return str(layer), str(lower)


def test_busybox_like_image(tmp_path):
    def build(lower):
        for d in ("bin", "dev", "proc"):
            (lower / d).mkdir()
        (lower / "etc").mkdir(mode=0o750)
        os.chmod(lower / "etc", 0o750)
        (lower / "etc" / "hostname").write_text("busybox\n")
    layer, _ = make_lower(tmp_path, build)
    assert listing(layer) == {
        ".dockerenv": "file 755 0",
        "dev": "dir 755", "dev/pts": "dir 755", "dev/shm": "dir 755", "dev/console": "file 755 0",
        "sys": "dir 755",                                    # /proc exists in the image: not here
        "etc": "dir 750",                                    # copied up with the image's mode
        "etc/resolv.conf": "file 755 0", "etc/hosts": "file 755 0",
        "etc/hostname": "file 755 0",                        # the image's file masked, as Docker
        "etc/mtab": "-> /proc/mounts",
    }


def test_non_directories_on_the_way_are_replaced(tmp_path):
    def build(lower):
        (lower / "dev").mkdir()
        os.symlink("/run/shm", lower / "dev" / "shm")        # Debian-style /dev/shm
        os.symlink("/proc/self/mounts", lower / "mtab-target")
        (lower / "etc").mkdir()
        os.symlink("../proc/self/mounts", lower / "etc" / "mtab")
        (lower / "etc" / "hosts").mkdir()                    # a directory is left alone
        (lower / "sys").write_text("not a dir")
    layer, _ = make_lower(tmp_path, build)
    got = listing(layer)
    assert got["dev/shm"] == "dir 755" and got["sys"] == "dir 755"
    assert got["etc/mtab"] == "-> /proc/mounts"
    assert "etc/hosts" not in got


def test_symlinked_parent_becomes_a_directory(tmp_path):
    def build(lower):
        (lower / "real-etc").mkdir()
        os.symlink("real-etc", lower / "etc")
    layer, _ = make_lower(tmp_path, build)
    got = listing(layer)
    assert got["etc"] == "dir 755" and got["etc/hosts"] == "file 755 0"
    assert not os.path.exists(os.path.join(str(tmp_path / "lower"), "real-etc", "hosts"))


def test_empty_image(tmp_path):
    layer, _ = make_lower(tmp_path, lambda lower: None)
    assert set(listing(layer)) == {".dockerenv", "dev", "dev/pts", "dev/shm", "dev/console",
                                   "proc", "sys", "etc", "etc/resolv.conf", "etc/hosts",
                                   "etc/hostname", "etc/mtab"}


# -- the snapshotter ---------------------------------------------------------------------------

@pytest.fixture
def base(store):
    store.load(chunks(docker_archive([([BUSYBOX], ["busybox:latest"], None)]), 4096))
    return store.get("busybox")


def test_prepare_with_init_layer(store, base):
    snaps = store.snapshots
    mounts = snaps.prepare("c1", base.chain_id, init_layer=True)
    lowers = mounts[0]["options"][0][len("lowerdir="):].split(":")
    assert lowers == [snaps.fs_path("c1-init"), snaps.fs_path(base.chain_id)]
    assert snaps.info("c1")["parent"] == "c1-init"
    assert snaps.info("c1-init") == {"key": "c1-init", "parent": base.chain_id,
                                     "kind": "committed", "size": 0}
    assert snaps.has_init_layer("c1") and snaps.image_parent("c1") == base.chain_id
    assert os.path.isfile(os.path.join(snaps.fs_path("c1-init"), ".dockerenv"))
    assert os.listdir(snaps.fs_path("c1")) == []
    # a second prepare of the same key fails and leaves the first one's init layer alone
    with pytest.raises(errors.Conflict):
        snaps.prepare("c1", base.chain_id, init_layer=True)
    assert snaps.exists("c1-init")
    with pytest.raises(errors.NotFound):
        snaps.prepare("c2", "sha256:" + "0" * 64, init_layer=True)
    assert not snaps.exists("c2-init")
    # gc keeps the init layer and the image layer under it, even once the image is gone
    store.delete("busybox")
    assert snaps.exists("c1-init") and snaps.exists(base.chain_id)
    snaps.remove("c1")
    assert not snaps.exists("c1-init")
    store.gc()
    assert snaps.list() == []


def test_prepare_without_parent_gets_an_init_layer_too(store):
    mounts = store.snapshots.prepare("c1", "", init_layer=True)
    assert mounts[0]["options"][0] == "lowerdir=" + store.snapshots.fs_path("c1-init")
    store.snapshots.remove("c1")
    assert store.snapshots.list() == []


def test_restore_drops_an_init_layer_without_container_layer(store, base):
    snaps = store.snapshots
    snaps.prepare("c1", base.chain_id, init_layer=True)
    snaps.prepare("c2", base.chain_id, init_layer=True)
    # a crash between the two steps of a prepare: the init layer alone
    with snaps.db.tx() as conn:
        conn.execute("DELETE FROM snapshots WHERE key = 'c2'")
    store.restore()
    assert snaps.exists("c1-init") and not snaps.exists("c2-init")
    # and a prepare finding such a leftover replaces it
    snaps.remove("c1")
    snaps.prepare("c3", base.chain_id, init_layer=True)
    with snaps.db.tx() as conn:
        conn.execute("DELETE FROM snapshots WHERE key = 'c3'")
    snaps.prepare("c3", base.chain_id, init_layer=True)
    assert snaps.info("c3")["parent"] == "c3-init"


def test_diff_of_a_fresh_and_a_written_container(store, base, tmp_path):
    snaps = store.snapshots
    snaps.prepare("c1", base.chain_id, init_layer=True)
    fs = fsops.SnapshotFS(snaps, str(tmp_path / "mnt"))
    assert fs.changes("c1") == []
    # what overlay leaves after `echo hi > /etc/foo`: /etc copied up from the init layer
    upper = snaps.fs_path("c1")
    init_etc = os.path.join(snaps.fs_path("c1-init"), "etc")
    os.mkdir(os.path.join(upper, "etc"))
    st = os.stat(init_etc)
    os.chmod(os.path.join(upper, "etc"), stat.S_IMODE(st.st_mode))
    with open(os.path.join(upper, "etc", "foo"), "w") as f:
        f.write("hi\n")
    assert fs.changes("c1") == [("/etc", C), ("/etc/foo", A)]


def layer_names(store, img):
    with store.content.open(img.diff_ids[-1]) as f, tarfile.open(fileobj=f) as tar:
        return tar.getnames()


def test_commit_of_a_container_with_init_layer(store, base):
    store.snapshots.prepare("c1", base.chain_id, init_layer=True)
    upper = store.snapshots.fs_path("c1")
    os.mkdir(os.path.join(upper, "tmp"))
    with open(os.path.join(upper, "tmp", "x"), "w") as f:
        f.write("x\n")
    img = store.commit("c1", base.id, json.dumps({}).encode(), "committed:v1")
    assert layer_names(store, img) == ["tmp", "tmp/x"]
    # the new image's layer chain does not contain the init layer
    assert store.snapshots.info(img.chain_id)["parent"] == base.chain_id


def test_commit_of_a_container_made_before_init_layers(store, base):
    """runc created its mount points in the upperdir: they stay out of the committed layer."""
    store.snapshots.prepare("old", base.chain_id)
    upper = store.snapshots.fs_path("old")
    os.mkdir(os.path.join(upper, "etc"))
    for name in ("hosts", "resolv.conf"):
        open(os.path.join(upper, "etc", name), "w").close()
    with open(os.path.join(upper, "etc", "foo"), "w") as f:
        f.write("hi\n")
    open(os.path.join(upper, "etc", "hostname"), "w").close()   # the image has it: a change
    img = store.commit("old", base.id)
    assert layer_names(store, img) == ["etc", "etc/foo", "etc/hostname"]
    fs = fsops.SnapshotFS(store.snapshots, "/nonexistent")
    assert ("/etc/hosts", A) not in fs.changes("old")
