"""dockyard_common.oci: --device, --device-cgroup-rule and the log annotations."""

import json
import os

import pytest

from dockyard_common import errors, oci

CID = "cd" * 32


def build(host_config):
    return oci.build_spec({"Cmd": ["sh"]}, host_config, container_id=CID, netns_path=None,
                          hostname="h", cgroups_path="/dockyard/" + CID)


def dev(host, ctr=None, perms="rwm"):
    return {"PathOnHost": host, "PathInContainer": ctr or host, "CgroupPermissions": perms}


def test_device_is_created_in_the_container_and_allowed_in_its_cgroup():
    spec = build({"Devices": [dev("/dev/null", "/dev/mynull", "rw")]})
    st = os.stat("/dev/null")
    assert spec["linux"]["devices"] == [{
        "path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
        "uid": st.st_uid, "gid": st.st_gid}]
    rules = spec["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}          # Docker's deny-all comes first
    assert rules[-1] == {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}


def test_no_devices_keeps_the_default_spec():
    spec = build({})
    assert "devices" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == oci._default_device_rules()


def test_empty_permissions_mean_rwm():
    spec = build({"Devices": [dev("/dev/zero", "/dev/z", "")]})
    assert spec["linux"]["resources"]["devices"][-1]["access"] == "rwm"


def test_a_symlink_to_a_device_is_resolved(tmp_path):
    link = tmp_path / "link"
    link.symlink_to("/dev/zero")
    spec = build({"Devices": [dev(str(link), "/dev/z")]})
    assert spec["linux"]["devices"][0]["minor"] == 5
    assert spec["linux"]["devices"][0]["path"] == "/dev/z"


def test_a_directory_brings_every_device_under_it(tmp_path):
    os.mkfifo(tmp_path / "b-fifo")
    (tmp_path / "regular").write_text("x")
    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "sub" / "a-fifo")
    spec = build({"Devices": [dev(str(tmp_path), "/dev/group", "r")]})
    paths = [d["path"] for d in spec["linux"]["devices"]]
    assert paths == ["/dev/group/b-fifo", "/dev/group/sub/a-fifo"]
    assert all(d["type"] == "p" for d in spec["linux"]["devices"])
    assert [r["access"] for r in spec["linux"]["resources"]["devices"][-2:]] == ["r", "r"]


def test_missing_device_is_dockers_error():
    with pytest.raises(errors.InvalidArgument) as exc:
        build({"Devices": [dev("/dev/nonexist")]})
    assert str(exc.value) == ('error gathering device information while adding custom device '
                              '"/dev/nonexist": no such file or directory')


def test_a_file_or_an_empty_directory_is_not_a_device(tmp_path):
    (tmp_path / "f").write_text("x")
    for path in (str(tmp_path / "f"), str(tmp_path)):
        with pytest.raises(errors.InvalidArgument) as exc:
            build({"Devices": [dev(path)]})
        assert str(exc.value) == ('error gathering device information while adding custom '
                                  'device "%s": not a device node' % path)


def test_cgroup_rules():
    spec = build({"DeviceCgroupRules": ["c 1:3 rwm", "a *:* m", "b 7:* r"]})
    assert spec["linux"]["resources"]["devices"][-3:] == [
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "a", "major": -1, "minor": -1, "access": "m"},
        {"allow": True, "type": "b", "major": 7, "minor": -1, "access": "r"}]


@pytest.mark.parametrize("rule", ["x 1:3 rwm", "c 1:3 rwz", "c a:3 rwm", "c 1:3", "c 1:3 rwmr"])
def test_bad_cgroup_rules(rule):
    with pytest.raises(errors.InvalidArgument) as exc:
        build({"DeviceCgroupRules": [rule]})
    assert str(exc.value) == "invalid device cgroup rule format: '%s'" % rule


def test_cgroup_rule_number_out_of_range():
    rule = "c 1:99999999999999999999 r"
    with pytest.raises(errors.InvalidArgument) as exc:
        build({"DeviceCgroupRules": [rule]})
    assert str(exc.value) == "invalid minor value in device cgroup rule format: '%s'" % rule


def test_privileged_ignores_devices_and_rules():
    spec = build({"Privileged": True, "Devices": [dev("/dev/nonexist")],
                  "DeviceCgroupRules": ["bad"]})
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_log_config_goes_to_annotations():
    spec = build({"LogConfig": {"Type": "local", "Config": {"max-size": "1k"}}})
    notes = spec["annotations"]
    assert notes[oci.LOG_DRIVER_ANNOTATION] == "local"
    assert json.loads(notes[oci.LOG_OPTS_ANNOTATION]) == {"max-size": "1k"}
    assert build({"LogConfig": {"Type": ""}})["annotations"][oci.LOG_DRIVER_ANNOTATION] == "json-file"
    assert oci.LOG_DRIVER_ANNOTATION not in build({})["annotations"]    # the shim's default: json-file without rotation
