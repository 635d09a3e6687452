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
