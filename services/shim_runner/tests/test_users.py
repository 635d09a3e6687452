import pytest

from dockyard_common import errors
from dockyard_common.oci import resolve_user
from dockyard_shim.users import apply_user


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text(
        "root:x:0:\napp:x:1001:\nstaff:x:50:app,other\nwheel:x:10:root\n")
    return str(tmp_path)


def test_name(rootfs):
    assert resolve_user(rootfs, "app") == (1000, 1001, [50], "/home/app")


def test_uid_known_and_unknown(rootfs):
    assert resolve_user(rootfs, "1000") == (1000, 1001, [50], "/home/app")
    assert resolve_user(rootfs, "4242") == (4242, 0, [], "/")


def test_uid_gid_and_name_group(rootfs):
    assert resolve_user(rootfs, "4242:4343") == (4242, 4343, [], "/")
    assert resolve_user(rootfs, "app:staff") == (1000, 50, [], "/home/app")


def test_unknown_name(rootfs):
    with pytest.raises(errors.InvalidArgument, match="unable to find user nobody"):
        resolve_user(rootfs, "nobody")
    with pytest.raises(errors.InvalidArgument, match="unable to find group nope"):
        resolve_user(rootfs, "app:nope")


def test_apply_user_sets_home_once(rootfs):
    spec = {"process": {"env": ["PATH=/bin"]}}
    apply_user(spec, rootfs, "app")
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1001, "additionalGids": [50]}
    assert "HOME=/home/app" in spec["process"]["env"]
    spec = {"process": {"env": ["HOME=/x"]}}
    apply_user(spec, rootfs, "root")
    assert spec["process"]["env"] == ["HOME=/x"]
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [10]}
