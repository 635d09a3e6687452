import errno

import pytest

from dockyard_common import mounts


def test_options_split_into_flags_and_data_as_moby():
    assert mounts.parse_options("bind,ro") == (mounts.MS_BIND | mounts.MS_RDONLY, "")
    assert mounts.parse_options(["rbind", "nosuid", "rw", "mode=755"]) == (
        mounts.MS_BIND | mounts.MS_REC | mounts.MS_NOSUID, "mode=755")
    assert mounts.parse_options("ro,rw,size=1m,uid=1000") == (0, "size=1m,uid=1000")
    assert mounts.parse_options("rprivate") == (mounts.MS_PRIVATE | mounts.MS_REC, "")
    assert mounts.parse_options("") == (0, "")


def test_relative_overlay_options():
    # (moved here with the helper from the image-service's fsops)
    assert mounts.relative_option("lowerdir=/s/1/fs:/s/2/fs", "/s") == "lowerdir=1/fs:2/fs"
    assert mounts.relative_option("index=off", "/s") == "index=off"


def test_errors_are_worded_as_moby():
    exc = mounts.MountError(errno.ENOENT, "mount", "/src", "/dst", mounts.MS_BIND, "x=1")
    assert str(exc) == "mount /src:/dst, flags: 0x1000, data: x=1: no such file or directory"
    assert exc.errno == errno.ENOENT
    assert str(mounts.MountError(errno.EBUSY, "unmount", "", "/m")) == \
        "unmount /m: device or resource busy"


def test_mountinfo_is_parsed_and_unescaped(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "30 22 0:40 / /srv/with\\040space rw master:2 - tmpfs tmp\\040fs rw,size=1024k\n"
        "31 22 0:41 / /srv/data rw - overlay overlay rw,lowerdir=/a\n")
    got = mounts.mountinfo(str(info))
    assert [m.mount_point for m in got] == ["/", "/srv/with space", "/srv/data"]
    assert (got[1].fstype, got[1].source, got[1].super_options) == ("tmpfs", "tmp fs",
                                                                     "rw,size=1024k")
    assert mounts.mount_points(str(info))[-1] == "/srv/data"


def test_mounts_below_lists_deepest_first(monkeypatch):
    monkeypatch.setattr(mounts, "mount_points",
                        lambda: ["/", "/r", "/r/a", "/r/a/b", "/rx", "/other"])
    assert mounts.mounts_below("/r") == ["/r/a/b", "/r/a", "/r"]
    assert mounts.is_mountpoint("/r/a") and not mounts.is_mountpoint("/r/b")


def test_unmount_of_what_is_not_mounted_is_a_no_op(tmp_path):
    mounts.unmount(str(tmp_path))
    mounts.unmount(str(tmp_path / "missing"))


def test_too_long_overlay_options_fail_before_mounting(tmp_path):
    # relative to their common parent they are still over one page: nothing is run
    lowers = ":".join("/l/long-layer-directory-name-%04d" % i for i in range(900))
    with pytest.raises(OSError) as ei:
        mounts.mount("overlay", str(tmp_path), "overlay", ["lowerdir=" + lowers])
    assert ei.value.errno == errno.E2BIG
