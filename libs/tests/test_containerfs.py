"""Docker's archive semantics on a directory tree: stat, get, put, export."""

import io
import os
import stat
import tarfile

import pytest

from dockyard_common import containerfs, errors


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root\n")
    (r / "tmp").mkdir()
    (r / "export" / "deep").mkdir(parents=True)
    (r / "export" / "deep" / "f").write_text("deep\n")
    os.link(r / "export" / "deep" / "f", r / "export" / "hard")
    os.symlink("/etc", r / "etclink")
    (tmp_path / "outside").mkdir()
    return str(r)


def members(chunks):
    data = b"".join(chunks)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, m.type, tar.extractfile(m).read() if m.isreg() else m.linkname)
                for m in tar.getmembers()]


def tar_of(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_go_file_mode():
    assert containerfs.go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert containerfs.go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert containerfs.go_file_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == (1 << 23) | 0o755
    assert containerfs.go_file_mode(stat.S_IFCHR | 0o600) == (1 << 26) | (1 << 21) | 0o600


def test_stat(root):
    st = containerfs.stat_path(root, "/etc/passwd")
    assert st["name"] == "passwd" and st["size"] == 5 and st["mode"] == 0o644
    assert st["mtime"].endswith("Z") and st["link_target"] == ""
    link = containerfs.stat_path(root, "/etclink")
    assert link["mode"] & (1 << 27) and link["link_target"] == "/etc"
    with pytest.raises(errors.NotFound):
        containerfs.stat_path(root, "/does/not/exist")


def test_get_file_is_named_after_its_base(root):
    info, chunks = containerfs.archive_get(root, "/etc/passwd")
    assert info["name"] == "passwd"
    assert members(chunks) == [("passwd", tarfile.REGTYPE, b"root\n")]


def test_get_directory_recursively_with_hardlinks(root):
    _, chunks = containerfs.archive_get(root, "/export")
    got = members(chunks)
    names = [m[0] for m in got]
    assert names == ["export", "export/deep", "export/deep/f", "export/hard"]
    assert got[3][1] == tarfile.LNKTYPE and got[3][2] == "export/deep/f"


def test_get_symlink_itself_and_through_trailing_slash(root):
    _, chunks = containerfs.archive_get(root, "/etclink")
    assert members(chunks) == [("etclink", tarfile.SYMTYPE, "/etc")]
    _, chunks = containerfs.archive_get(root, "/etclink/")
    assert [m[0] for m in members(chunks)] == ["etclink", "etclink/passwd"]


def test_get_missing_raises_before_streaming(root):
    with pytest.raises(errors.NotFound):
        containerfs.archive_get(root, "/nope")


def test_export_names_are_relative(root):
    _, chunks = containerfs.archive_get(root, "")
    names = [m[0] for m in members(chunks)]
    assert "etc/passwd" in names and "export/deep/f" in names
    assert not any(n.startswith(("/", "./")) for n in names)


def test_big_file_streams_in_chunks(root):
    big = os.urandom(3 * 1024 * 1024 + 5)
    with open(os.path.join(root, "big"), "wb") as f:
        f.write(big)
    _, chunks = containerfs.archive_get(root, "/big")
    sizes = []
    data = b""
    for c in chunks:
        sizes.append(len(c))
        data += c
    assert max(sizes) <= 2 * 1024 * 1024
    assert members([data]) == [("big", tarfile.REGTYPE, big)]


def test_put_into_directory_and_through_symlink(root):
    containerfs.archive_put(root, "/tmp", tar_of([("sdk", None), ("sdk/file.txt", b"x\n")]))
    assert open(os.path.join(root, "tmp/sdk/file.txt")).read() == "x\n"
    containerfs.archive_put(root, "/etclink", tar_of([("hosts", b"h\n")]))
    assert open(os.path.join(root, "etc/hosts")).read() == "h\n"


def test_put_errors(root):
    with pytest.raises(errors.NotFound):
        containerfs.archive_put(root, "/missing", tar_of([("a", b"")]))
    with pytest.raises(errors.InvalidArgument, match="extraction point is not a directory"):
        containerfs.archive_put(root, "/etc/passwd", tar_of([("a", b"")]))
    with pytest.raises(errors.InvalidArgument, match="cannot overwrite directory"):
        containerfs.archive_put(root, "/", tar_of([("etc", b"file now")]), no_overwrite_dir_non_dir=True)
    with pytest.raises(errors.InvalidArgument):
        containerfs.archive_put(root, "/tmp", io.BytesIO(b"not a tar" * 200))


def test_put_never_escapes(root, tmp_path):
    os.symlink(str(tmp_path / "outside"), os.path.join(root, "tmp", "esc"))
    containerfs.archive_put(root, "/tmp", tar_of([("../../outside/x", b"1"), ("esc/y", b"2"),
                                                  ("/abs", b"3")]))
    assert os.listdir(tmp_path / "outside") == []
    assert open(os.path.join(root, "tmp", "abs")).read() == "3"
    # whiteout-looking names are plain files in docker cp
    containerfs.archive_put(root, "/tmp", tar_of([(".wh.passwd", b"w")]))
    assert open(os.path.join(root, "tmp", ".wh.passwd")).read() == "w"


def test_chunk_reader():
    r = containerfs.ChunkReader([b"abc", b"", b"defgh", b"i"])
    assert r.read(2) == b"ab"
    assert r.read(4) == b"cdef"
    assert r.read(-1) == b"ghi"
    assert r.read(5) == b""


# -- the container's view: an fd root, read-only checks, owners, pseudo filesystems ----------

def test_root_given_as_an_open_fd(root):
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert containerfs.stat_path(fd, "/etc/passwd")["size"] == 5
        containerfs.archive_put(fd, "/tmp", tar_of([("via-fd", b"x\n")]))
        _, chunks = containerfs.archive_get(fd, "/tmp/via-fd")
        assert members(chunks) == [("via-fd", tarfile.REGTYPE, b"x\n")]
        os.fstat(fd)                       # the caller's fd stays open
    finally:
        os.close(fd)


def test_skip_devs_archives_a_directory_without_its_contents(root):
    dev = os.stat(os.path.join(root, "export")).st_dev
    _, chunks = containerfs.archive_get(root, "/export", skip_devs={dev})
    assert [m[0] for m in members(chunks)] == ["export"]
    _, chunks = containerfs.archive_get(root, "/export", skip_devs={dev + 1})
    assert "export/deep/f" in [m[0] for m in members(chunks)]


def test_check_writable_follows_docker():
    mounts = [("/data", True), ("/data/ro", False), ("/rov/", False)]
    containerfs.check_writable("/data", mounts, readonly_rootfs=True)       # rw volume wins
    containerfs.check_writable("/data/x", mounts, readonly_rootfs=True)
    containerfs.check_writable("/tmp", mounts, readonly_rootfs=False)
    containerfs.check_writable("/database", mounts, readonly_rootfs=False)  # not below /data
    for path in ("/rov", "/rov/sub", "/data/ro/x"):                        # deepest mount decides
        with pytest.raises(errors.PermissionDenied, match="^mounted volume is marked read-only$"):
            containerfs.check_writable(path, mounts, readonly_rootfs=False)
    with pytest.raises(errors.PermissionDenied, match="^container rootfs is marked read-only$"):
        containerfs.check_writable("/tmp", mounts, readonly_rootfs=True)


def test_put_check_sees_the_resolved_path(root):
    os.symlink("/tmp", os.path.join(root, "tmplink"))
    seen = []
    containerfs.archive_put(root, "/tmplink", tar_of([("f", b"1")]), check=seen.append)
    assert seen == ["/tmp"]

    def refuse(path):
        raise errors.PermissionDenied(containerfs.READONLY_VOLUME)
    with pytest.raises(errors.PermissionDenied):
        containerfs.archive_put(root, "/tmplink", tar_of([("g", b"1")]), check=refuse)
    assert not os.path.exists(os.path.join(root, "tmp", "g"))


def test_mount_points_of_messages():
    class M:
        def __init__(self, target, options):
            self.target, self.options = target, options
    assert containerfs.mount_points([M("/a", ["rw"]), M("/b", ["ro"])]) == [("/a", True), ("/b", False)]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_put_with_an_owner_and_lookup_in_the_container(root):
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nstaff:x:50:\n")
    assert containerfs.lookup_owner(root, "app") == (1000, 1001)
    assert containerfs.lookup_owner(root, "app:staff") == (1000, 50)
    assert containerfs.lookup_owner(root, "4321:4321") == (4321, 4321)
    with pytest.raises(errors.InvalidArgument, match="unable to find user nobody"):
        containerfs.lookup_owner(root, "nobody")
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as t:
        for name, kind in (("d", tarfile.DIRTYPE), ("d/f", tarfile.REGTYPE), ("d/l", tarfile.SYMTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.uid, info.gid, info.linkname = kind, 7, 8, "f"
            t.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    tar.seek(0)
    containerfs.archive_put(root, "/tmp", tar, owner=(1000, 1001))
    for name in ("d", "d/f", "d/l"):
        st = os.lstat(os.path.join(root, "tmp", name))
        assert (st.st_uid, st.st_gid) == (1000, 1001), name
    tar.seek(0)
    containerfs.archive_put(root, "/etc", tar)       # no owner: the tar's own
    assert os.stat(os.path.join(root, "etc", "d", "f")).st_uid == 7
