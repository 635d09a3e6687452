"""oci.additional_groups (runc GetAdditionalGroups) and the spec bits of --group-add and
--cgroup-parent."""

import json

import pytest

from dockyard_common import errors, oci

CID = "cd" * 32


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "group").write_text(
        "root:x:0:\ntty:x:5:\nwheel:x:10:root\ndup:x:5:\nstaff:x:50:app\n")
    return str(tmp_path)


@pytest.mark.parametrize("group_add,expected", [
    ([], []),
    (["123"], [123]),
    (["staff", "tty"], [50, 5]),
    (["123", "123", "7"], [123, 7]),
    (["tty", "5"], [5]),          # "5" finds tty taken, then is a bare number already there
    (["dup"], [5]),
    (["0"], [0]),
    (["+9"], [9]),                # Go's ParseInt takes a sign
])
def test_additional_groups(rootfs, group_add, expected):
    assert oci.additional_groups(rootfs, group_add) == expected


@pytest.mark.parametrize("group_add,message", [
    (["nosuchgroup"], "Unable to find group nosuchgroup: no matching entries in group file"),
    # dockerd's quirk: the second "root" only finds gid 0 already taken, and is no number.
    (["root", "root"], "Unable to find group root: no matching entries in group file"),
    (["tty", "dup"], "Unable to find group dup: no matching entries in group file"),
    (["-1"], "uids and gids must be in range 0-2147483647"),
    (["99999999999"], "uids and gids must be in range 0-2147483647"),
    (["99999999999999999999"], "Unable to find group 99999999999999999999: no matching "
                               "entries in group file"),
])
def test_additional_groups_errors(rootfs, group_add, message):
    with pytest.raises(errors.InvalidArgument) as ei:
        oci.additional_groups(rootfs, group_add)
    assert str(ei.value) == message


def test_additional_groups_without_group_file(tmp_path):
    assert oci.additional_groups(str(tmp_path), ["12"]) == [12]
    with pytest.raises(errors.InvalidArgument):
        oci.additional_groups(str(tmp_path), ["wheel"])


def build(hc, **kw):
    return oci.build_spec({"Cmd": ["id"]}, hc, container_id=CID, netns_path=None, hostname="h",
                          **kw)


def test_group_add_annotation():
    spec = build({"GroupAdd": ["123", "staff"]})
    assert json.loads(spec["annotations"][oci.GROUP_ADD_ANNOTATION]) == ["123", "staff"]
    assert spec["annotations"][oci.USER_ANNOTATION] == ""
    assert oci.GROUP_ADD_ANNOTATION not in build({})["annotations"]


@pytest.mark.parametrize("parent,expected", [
    ("", "/dockyard/" + CID),
    ("/mytest", "/mytest/" + CID),
    ("/mytest/", "/mytest/" + CID),
    ("/a/b", "/a/b/" + CID),
    ("mytest", "mytest/" + CID),   # relative: runc resolves it as under dockerd
])
def test_cgroup_parent(parent, expected):
    spec = build({"CgroupParent": parent}, cgroups_path="/dockyard/" + CID)
    assert spec["linux"]["cgroupsPath"] == expected
