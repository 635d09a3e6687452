"""docker diff of an upperdir against its lowers, and the private mount around file operations
(mounting is faked: unit tests run without root)."""

import io
import os
import shutil
import stat
import tarfile

import pytest

from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors
from dockyard_images import fsops
from dockyard_images.db import Database
from dockyard_images.snapshots import Snapshotter

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (whiteout devices, trusted xattrs)")
A, C, D = fsops.KIND_ADDED, fsops.KIND_MODIFIED, fsops.KIND_DELETED


def whiteout(path):
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


@pytest.fixture
def layers(tmp_path):
    lower = tmp_path / "lower"
    for d in ("etc", "var", "bin", "opq"):
        (lower / d).mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root\n")
    (lower / "etc" / "group").write_text("root\n")
    (lower / "opq" / "old").write_text("old\n")
    upper = tmp_path / "upper"
    upper.mkdir()
    return str(upper), str(lower)


def same_dir_meta(src, dst):
    st = os.stat(src)
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_added_and_modified(layers):
    upper, lower = layers
    os.makedirs(os.path.join(upper, "var", "x"))
    open(os.path.join(upper, "var", "x", "y"), "w").close()
    open(os.path.join(upper, "newfile"), "w").close()
    os.mkdir(os.path.join(upper, "etc"))
    with open(os.path.join(upper, "etc", "passwd"), "w") as f:
        f.write("root\nextra\n")
    same_dir_meta(os.path.join(lower, "etc"), os.path.join(upper, "etc"))
    same_dir_meta(os.path.join(lower, "var"), os.path.join(upper, "var"))
    got = fsops.upper_changes(upper, [lower])
    # /etc and /var were copied up only for their children: /etc is not reported (its child
    # is a modification), /var is, as the parent of an addition
    assert got == [("/etc/passwd", C), ("/newfile", A), ("/var", C), ("/var/x", A), ("/var/x/y", A)]


@root_only
def test_whiteouts_and_opaque_dirs(layers):
    upper, lower = layers
    os.mkdir(os.path.join(upper, "etc"))
    whiteout(os.path.join(upper, "etc", "group"))
    os.mkdir(os.path.join(upper, "opq"))
    os.setxattr(os.path.join(upper, "opq"), "trusted.overlay.opaque", b"y")
    open(os.path.join(upper, "opq", "old"), "w").close()
    got = fsops.upper_changes(upper, [lower])
    assert ("/etc/group", D) in got and ("/etc", C) in got
    assert got.index(("/etc", C)) < got.index(("/etc/group", D))
    assert ("/opq", D) in got and ("/opq/old", A) in got


@root_only
def test_lower_stat_respects_whiteouts_in_lower_layers(tmp_path):
    top, base = tmp_path / "top", tmp_path / "base"
    (base / "d").mkdir(parents=True)
    (base / "d" / "f").write_text("x")
    (base / "g").write_text("x")
    (top / "d").mkdir(parents=True)
    whiteout(str(top / "g"))
    os.setxattr(str(top / "d"), "trusted.overlay.opaque", b"y")
    assert fsops.lower_stat([str(top), str(base)], "g") is None
    assert fsops.lower_stat([str(top), str(base)], "d/f") is None
    assert fsops.lower_stat([str(base)], "d/f") is not None


class CopyMounter:
    """Stands in for an overlay mount: copies the upperdir to the target and back."""

    def __init__(self, fail=False):
        self.fail = fail
        self.calls = []

    def mount(self, mounts, target):
        self.calls.append(("mount", target))
        if self.fail:
            raise errors.Internal("mount failed")
        upper = [o for o in mounts[0]["options"] if o.startswith("upperdir=")][0][9:]
        self.upper = upper
        shutil.copytree(upper, target, dirs_exist_ok=True, symlinks=True)

    def unmount(self, target):
        self.calls.append(("unmount", target))
        shutil.rmtree(self.upper)
        shutil.copytree(target, self.upper, symlinks=True)
        for name in os.listdir(target):
            p = os.path.join(target, name)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)


@pytest.fixture
def snapfs(tmp_path):
    db = Database(str(tmp_path / "image.db"))
    snaps = Snapshotter(str(tmp_path / "snapshots"), db)
    snaps.prepare("c1", "")
    mounter = CopyMounter()
    return fsops.SnapshotFS(snaps, str(tmp_path / "mnt"), mounter), mounter, tmp_path


def tar_of(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_file_operations_mount_then_unmount(snapfs):
    fs, mounter, tmp = snapfs
    fs.archive_put("c1", "/", tar_of("result", b"kept\n"))
    assert fs.stat_path("c1", "/result")["size"] == 5
    data = b"".join(fs.archive_get("c1", "/result"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("result").read() == b"kept\n"
    assert [c[0] for c in mounter.calls] == ["mount", "unmount"] * 3
    assert os.listdir(tmp / "mnt") == []          # every mount dir removed
    assert fs.changes("c1") == [("/result", A)]


def test_errors_still_unmount(snapfs):
    fs, mounter, tmp = snapfs
    with pytest.raises(errors.NotFound):
        fs.stat_path("c1", "/missing")
    with pytest.raises(errors.NotFound):
        next(fs.archive_get("c1", "/missing"))
    assert [c[0] for c in mounter.calls] == ["mount", "unmount"] * 2
    assert os.listdir(tmp / "mnt") == []
    with pytest.raises(errors.NotFound):
        fs.stat_path("nope", "/")
    fs.mounter = CopyMounter(fail=True)
    with pytest.raises(errors.Internal):
        fs.stat_path("c1", "/")
    assert os.listdir(tmp / "mnt") == []


def test_runtime_mountpoints_are_not_additions(layers):
    upper, lower = layers
    for d in ("proc", "sys", "dev"):
        os.mkdir(os.path.join(upper, d))
    os.mkdir(os.path.join(upper, "etc"))
    open(os.path.join(upper, "etc", "hosts"), "w").close()
    with open(os.path.join(upper, "etc", "hostname"), "w") as f:
        f.write("written by the user\n")
    same_dir_meta(os.path.join(lower, "etc"), os.path.join(upper, "etc"))
    assert fsops.upper_changes(upper, [lower]) == [("/etc", C), ("/etc/hostname", A)]


# -- the container's volumes, binds and network files bound on a stopped container's snapshot --

class BindingMounter(CopyMounter):
    def bind(self, source, target, readonly):
        assert os.path.exists(target), "the mount point is created first"
        self.calls.append(("bind", source, os.path.relpath(target, self.root_of(target)), readonly))

    @staticmethod
    def root_of(target):
        parts = target.split(os.sep)
        return os.sep.join(parts[:parts.index("mnt") + 2])


def bind(source, target, ro=False, kind="volume"):
    return types_pb2.Mount(type=kind, source=str(source), target=target, options=["ro" if ro else "rw"])


@pytest.fixture
def bindfs(snapfs):
    fs, _, tmp = snapfs
    fs.mounter = BindingMounter()
    (tmp / "vol").mkdir()
    (tmp / "hosts").write_text("127.0.0.1 localhost\n")
    fs.archive_put("c1", "/", tar_of("real/keep", b"x"))       # a directory the image has
    fs.archive_put("c1", "/", symlink_tar("link", "/real"))
    fs.mounter.calls.clear()
    return fs, tmp


def symlink_tar(name, target):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        tar.addfile(info)
    buf.seek(0)
    return buf


def test_binds_are_mounted_parents_first_on_created_mount_points(bindfs):
    fs, tmp = bindfs
    binds = [bind(tmp / "vol", "/data/sub/deep", ro=True), bind(tmp / "vol", "/data"),
             bind(tmp / "hosts", "/etc/hosts", kind="bind"), bind("", "/scratch", kind="tmpfs"),
             bind(tmp / "gone", "/gone", kind="bind"), bind(tmp / "vol", "/link/v")]
    assert fs.stat_path("c1", "/data", binds)["name"] == "data"
    got = [c for c in fs.mounter.calls if c[0] == "bind"]
    assert got == [("bind", str(tmp / "vol"), "data", False),
                   ("bind", str(tmp / "hosts"), "etc/hosts", False),
                   ("bind", str(tmp / "vol"), "real/v", False),     # the symlink followed in the root
                   ("bind", str(tmp / "vol"), "data/sub/deep", True)]
    assert fs.stat_path("c1", "/etc/hosts")["mode"] & (1 << 31) == 0   # a file mount point
    assert fs.stat_path("c1", "/real/v")["mode"] & (1 << 31)
    assert os.listdir(tmp / "mnt") == []


def test_put_refuses_read_only_mounts_and_rootfs(bindfs):
    fs, tmp = bindfs
    with pytest.raises(errors.PermissionDenied, match="^mounted volume is marked read-only$"):
        fs.archive_put("c1", "/data", tar_of("x", b"1"), binds=[bind(tmp / "vol", "/data", ro=True)])
    with pytest.raises(errors.PermissionDenied, match="^container rootfs is marked read-only$"):
        fs.archive_put("c1", "/real", tar_of("x", b"1"), binds=[bind(tmp / "vol", "/data")],
                       readonly_rootfs=True)
    with pytest.raises(errors.PermissionDenied, match="^mounted volume is marked read-only$"):
        fs.archive_put("c1", "/link", tar_of("x", b"1"), binds=[bind(tmp / "vol", "/real", ro=True)])
    fs.archive_put("c1", "/data", tar_of("x", b"1"), binds=[bind(tmp / "vol", "/data")],
                   readonly_rootfs=True)
    assert fs.stat_path("c1", "/data/x")["size"] == 1
    assert os.listdir(tmp / "mnt") == []


class OwnerSpy(BindingMounter):
    """Records the owner of real/owned while mounted (the copying fake loses owners)."""

    def unmount(self, target):
        path = os.path.join(target, "real", "owned")
        if os.path.exists(path):
            self.owner = os.stat(path).st_uid
        super().unmount(target)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_put_owner_user_is_resolved_in_the_snapshot(bindfs):
    fs, tmp = bindfs
    fs.archive_put("c1", "/", tar_of("etc/passwd", b"root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"))
    fs.mounter = OwnerSpy()
    fs.archive_put("c1", "/real", tar_of("owned", b"1"), owner_user="app")
    assert fs.mounter.owner == 1000
    with pytest.raises(errors.InvalidArgument, match="unable to find user nobody"):
        fs.archive_put("c1", "/real", tar_of("owned", b"1"), owner_user="nobody")
