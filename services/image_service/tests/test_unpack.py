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
