import pytest

from dockyard_common import errors
from dockyard_common.oci import resolve_user
from dockyard_shim.users import apply_spec_user, apply_user, group_add_of


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
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1001, "additionalGids": [1001, 50]}
    assert "HOME=/home/app" in spec["process"]["env"]
    spec = {"process": {"env": ["HOME=/x"]}}
    apply_user(spec, rootfs, "root")
    assert spec["process"]["env"] == ["HOME=/x"]
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 10]}


# --- --group-add (dockerd getUser: primary gid, memberships, then GroupAdd) ----------------

def test_group_add_numbers_and_names(rootfs):
    spec = {"process": {}}
    apply_user(spec, rootfs, "", ["123", "staff"])
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 10, 123, 50]}


def test_group_add_with_user_keeps_memberships_and_duplicates(rootfs):
    spec = {"process": {}}
    apply_user(spec, rootfs, "app", ["50", "77"])
    # Docker does not merge the user's own groups with the added ones.
    assert spec["process"]["user"]["additionalGids"] == [1001, 50, 50, 77]
    apply_user(spec, rootfs, "app:wheel", ["123"])
    assert spec["process"]["user"] == {"uid": 1000, "gid": 10, "additionalGids": [10, 123]}


def test_group_add_unknown_name(rootfs):
    with pytest.raises(errors.InvalidArgument) as ei:
        apply_user({"process": {}}, rootfs, "", ["nosuchgroup"])
    assert str(ei.value) == "Unable to find group nosuchgroup: no matching entries in group file"


def test_apply_spec_user_reads_annotations(rootfs):
    spec = {"process": {}, "annotations": {"org.dockyard.user": "",
                                           "org.dockyard.group-add": '["123"]'}}
    apply_spec_user(spec, rootfs)
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 10, 123]}
    assert group_add_of(spec) == ["123"]
    untouched = {"process": {"user": {"uid": 5, "gid": 5}}}   # a spec from before the annotations
    apply_spec_user(untouched, rootfs)
    assert untouched["process"]["user"] == {"uid": 5, "gid": 5}
