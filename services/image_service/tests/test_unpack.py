"""Layer extraction: content, metadata, whiteouts, and every way a hostile layer tries to escape."""

import io
import os
import stat

import pytest

from dockyard_common import errors
from dockyard_images.unpack import unpack
from helpers import entry, make_tar

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, chown, trusted xattrs)")


@pytest.fixture
def dirs(tmp_path):
    layer = tmp_path / "layer"
    outside = tmp_path / "outside"
    layer.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("original")
    return layer, outside


def apply(layer, entries):
    return unpack(io.BytesIO(make_tar(entries)), str(layer))


def test_basic_content_and_metadata(dirs):
    layer, _ = dirs
    size = apply(layer, [
        entry("etc", "dir", mode=0o750, mtime=1_500_000_000),
        entry("etc/conf", data=b"x=1\n", mode=0o640, mtime=1_500_000_001),
        entry("bin/tool", data=b"#!/bin/sh\n", mode=0o4755),
        entry("bin/sh", "symlink", linkname="/bin/busybox"),
        entry("bin/tool2", "hardlink", linkname="bin/tool"),
        entry("run/fifo", "fifo", mode=0o600),
    ])
    assert size == 4 + 10
    assert (layer / "etc/conf").read_bytes() == b"x=1\n"
    assert stat.S_IMODE(os.stat(layer / "etc/conf").st_mode) == 0o640
    assert os.stat(layer / "etc/conf").st_mtime == 1_500_000_001
    assert stat.S_IMODE(os.stat(layer / "etc").st_mode) == 0o750
    assert os.stat(layer / "etc").st_mtime == 1_500_000_000    # set after its content
    assert os.readlink(layer / "bin/sh") == "/bin/busybox"
    assert os.stat(layer / "bin/tool").st_ino == os.stat(layer / "bin/tool2").st_ino
    assert stat.S_ISFIFO(os.lstat(layer / "run/fifo").st_mode)


@root_only
def test_owner_and_setuid_preserved(dirs):
    layer, _ = dirs
    apply(layer, [entry("f", data=b"x", mode=0o4755, uid=1000, gid=1001),
                  entry("l", "symlink", linkname="f", uid=7, gid=8)])
    st = os.stat(layer / "f")
    assert (st.st_uid, st.st_gid) == (1000, 1001)
    assert stat.S_IMODE(st.st_mode) == 0o4755
    lst = os.lstat(layer / "l")
    assert (lst.st_uid, lst.st_gid) == (7, 8)


def test_dotdot_is_refused(dirs):
    layer, outside = dirs
    apply(layer, [entry("../outside/victim", data=b"pwned"),
                  entry("a/../../outside/new", data=b"pwned"),
                  entry("ok", data=b"fine")])
    assert (outside / "victim").read_text() == "original"
    assert not (outside / "new").exists()
    assert (layer / "ok").read_bytes() == b"fine"


def test_absolute_path_stays_inside(dirs):
    layer, outside = dirs
    apply(layer, [entry(str(outside / "victim"), data=b"pwned")])
    assert (outside / "victim").read_text() == "original"
    assert (layer / str(outside / "victim").lstrip("/")).read_bytes() == b"pwned"


def test_symlink_in_path_is_not_followed(dirs):
    layer, outside = dirs
    apply(layer, [entry("link", "symlink", linkname=str(outside)),
                  entry("link/victim", data=b"pwned"),
                  entry("link/new", data=b"pwned"),
                  entry("rel", "symlink", linkname="../outside"),
                  entry("rel/new2", data=b"pwned")])
    assert (outside / "victim").read_text() == "original"
    assert sorted(os.listdir(outside)) == ["victim"]
    assert os.path.islink(layer / "link")


def test_existing_symlink_is_replaced_not_written_through(dirs):
    layer, outside = dirs
    apply(layer, [entry("evil", "symlink", linkname=str(outside / "victim")),
                  entry("evil", data=b"pwned")])
    assert (outside / "victim").read_text() == "original"
    assert not os.path.islink(layer / "evil")
    assert (layer / "evil").read_bytes() == b"pwned"


def test_symlink_placed_on_disk_before_is_not_followed(dirs):
    layer, outside = dirs
    os.symlink(str(outside), layer / "pre")
    apply(layer, [entry("pre/victim", data=b"pwned")])
    assert (outside / "victim").read_text() == "original"


def test_hardlink_outside_is_refused(dirs):
    layer, outside = dirs
    apply(layer, [entry("h1", "hardlink", linkname="../outside/victim"),
                  entry("h2", "hardlink", linkname=str(outside / "victim")),
                  entry("link", "symlink", linkname=str(outside)),
                  entry("h3", "hardlink", linkname="link/victim")])
    for name in ("h1", "h2", "h3"):
        assert not os.path.lexists(layer / name)
    assert os.stat(outside / "victim").st_nlink == 1


def test_hardlink_to_symlink_target_name_links_the_symlink_itself(dirs):
    layer, outside = dirs
    apply(layer, [entry("s", "symlink", linkname=str(outside / "victim")),
                  entry("h", "hardlink", linkname="s")])
    assert os.path.islink(layer / "h")          # a link to the symlink, not to its target
    assert os.stat(outside / "victim").st_nlink == 1


def test_device_nodes_are_skipped(dirs):
    layer, _ = dirs
    apply(layer, [entry("dev/null", "chr", major=1, minor=3),
                  entry("dev/sda", "blk", major=8, minor=0),
                  entry("after", data=b"ok")])
    assert not os.path.lexists(layer / "dev/null")
    assert not os.path.lexists(layer / "dev/sda")
    assert (layer / "after").exists()


@root_only
def test_whiteouts_become_overlay_whiteouts(dirs):
    layer, _ = dirs
    apply(layer, [entry("etc", "dir"), entry("etc/.wh.passwd"),
                  entry("var", "dir"), entry("var/.wh..wh..opq")])
    st = os.lstat(layer / "etc/passwd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not os.path.lexists(layer / "etc/.wh.passwd")
    assert os.getxattr(layer / "var", "trusted.overlay.opaque") == b"y"
    assert not os.path.lexists(layer / "var/.wh..wh..opq")


@root_only
def test_bad_whiteout_names(dirs):
    layer, outside = dirs
    apply(layer, [entry(".wh.."), entry(".wh."), entry("x/.wh..")])
    assert os.listdir(outside) == ["victim"]
    assert os.path.isdir(layer) and set(os.listdir(layer)) <= {"x"}


def test_xattrs_user_kept_trusted_dropped(dirs):
    layer, _ = dirs
    apply(layer, [entry("f", data=b"x", pax={"SCHILY.xattr.user.note": "hi",
                                              "SCHILY.xattr.trusted.overlay.redirect": "/etc"})])
    try:
        assert os.getxattr(layer / "f", "user.note") == b"hi"
    except OSError:
        pytest.skip("filesystem without user xattrs")
    with pytest.raises(OSError):
        os.getxattr(layer / "f", "trusted.overlay.redirect")


def test_type_changes_replace_entries(dirs):
    layer, _ = dirs
    apply(layer, [entry("a", "dir"), entry("a/inner", data=b"1"), entry("a", data=b"file now"),
                  entry("b", data=b"file"), entry("b", "dir"), entry("b/c", data=b"2")])
    assert (layer / "a").read_bytes() == b"file now"
    assert (layer / "b/c").read_bytes() == b"2"


def test_not_a_tar(dirs):
    layer, _ = dirs
    with pytest.raises(errors.InvalidArgument):
        unpack(io.BytesIO(b"this is not a tar archive" * 100), str(layer))


# ---------------------------------------------------------------------------------------------
# LayerReader / unpack_chunks: decompress, hash and untar a blob as its chunks arrive
# ---------------------------------------------------------------------------------------------

def _pieces(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("compress", ["gzip", "gzip-members", "plain", "bz2", "xz"])
@pytest.mark.parametrize("piece", [1, 1000, 1 << 20])
def test_layer_reader_gives_the_tar_and_its_diff_id(compress, piece):
    import bz2
    import gzip
    import hashlib
    import lzma
    from dockyard_images.unpack import LayerReader
    tar = make_tar([entry("a", data=os.urandom(300_000)), entry("b", data=b"x" * 500_000)])
    blob = {"gzip": lambda d: gzip.compress(d, mtime=0),
            "gzip-members": lambda d: gzip.compress(d[:7000]) + gzip.compress(d[7000:]) + b"\0" * 9,
            "plain": lambda d: d, "bz2": bz2.compress, "xz": lzma.compress}[compress](tar)
    if piece == 1 and len(blob) > 20_000:
        blob_pieces = _pieces(blob[:5000], 1) + _pieces(blob[5000:], 4096)
    else:
        blob_pieces = _pieces(blob, piece)
    reader = LayerReader(blob_pieces)
    out = []
    for n in iter(lambda: [512, 70_000, 1 << 20][len(out) % 3], None):
        data = reader.read(n)
        if not data:
            break
        assert len(data) <= n
        out.append(data)
    assert b"".join(out) == tar
    assert reader.diff_id() == "sha256:" + hashlib.sha256(tar).hexdigest() and reader.size == len(tar)


def test_unpack_chunks_hashes_the_whole_stream(tmp_path):
    import gzip
    import hashlib
    from dockyard_images.unpack import unpack_chunks
    tar = make_tar([entry("etc", "dir"), entry("etc/big", data=os.urandom(2_500_000))]) + b"\0" * 10240
    size, diff_id, tar_size = unpack_chunks(_pieces(gzip.compress(tar), 65536), str(tmp_path))
    assert (size, diff_id, tar_size) == (2_500_000, "sha256:" + hashlib.sha256(tar).hexdigest(), len(tar))
    assert (tmp_path / "etc" / "big").stat().st_size == 2_500_000
    # dest None: the blob is only checked
    assert unpack_chunks([gzip.compress(tar)], None)[1:] == (diff_id, len(tar))


@pytest.mark.parametrize("blob", [b"\x1f\x8b\x08\x00garbage" * 100,
                                  b"\x1f\x8b" + b"\0" * 30])
def test_unpack_chunks_refuses_a_broken_stream(tmp_path, blob):
    import gzip
    from dockyard_images.unpack import unpack_chunks
    with pytest.raises(errors.InvalidArgument):
        unpack_chunks([blob], str(tmp_path))
    truncated = gzip.compress(make_tar([entry("f", data=os.urandom(100_000))]))[:-5000]
    with pytest.raises(errors.InvalidArgument):
        unpack_chunks([truncated], None)


def test_forward_reader_seeks_only_forwards():
    from dockyard_common.safetar import Forward
    f = Forward(io.BytesIO(bytes(range(256)) * 4000), chunk=1000)
    assert f.read(3) == b"\x00\x01\x02" and f.tell() == 3
    assert f.seek(2500) == 2500 and f.read(2) == bytes([2500 % 256, 2501 % 256])
    with pytest.raises(OSError):
        f.seek(10)
    r, w = os.pipe()
    try:
        assert f.copy_to(w, 5000) == 5000
        assert os.read(r, 10000) == (bytes(range(256)) * 4000)[2502:7502]
    finally:
        os.close(r)
        os.close(w)
    assert len(f.read()) == 1_024_000 - 7502 and f.read(10) == b""
