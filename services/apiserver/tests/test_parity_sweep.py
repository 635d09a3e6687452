"""Shapes and messages that dockerd 20.10 shows (found by the parity sweep against it)."""

import types

import pytest

from dockyard_common import errors

from dockyard_apiserver.backend import container_config as cc
from dockyard_apiserver.backend import container_views as views
from dockyard_apiserver.backend import disk_usage, log_format, stats_shape, volume_views
from dockyard_apiserver.webutil import exact_bool


def test_log_bytes_that_are_not_utf8_read_back_as_go_replacements():
    assert log_format.as_json_file(b"\x01\xff\x00x\n") == b"\x01\xef\xbf\xbd\x00x\n"
    # a cut multi-byte sequence: one U+FFFD per byte, as Go's utf8.DecodeRune
    assert log_format.as_json_file(b"y\xe2\x82\n") == b"y" + b"\xef\xbf\xbd" * 2 + b"\n"
    assert log_format.as_json_file("é\n".encode()) == "é\n".encode()


def test_stats_of_a_stopped_container_are_go_zero_values():
    rec = types.SimpleNamespace(name="c1", id="ab" * 32)
    out = stats_shape.stopped(rec)
    assert out["read"] == out["preread"] == "0001-01-01T00:00:00Z"
    assert out["cpu_stats"]["cpu_usage"] == {"total_usage": 0, "usage_in_kernelmode": 0,
                                             "usage_in_usermode": 0}
    assert out["blkio_stats"]["sectors_recursive"] is None and "networks" not in out


def test_running_v1_stats_keep_dockers_memory_keys_and_every_blkio_list():
    data = {"memory_stats": {"usage": 1, "failcnt": 0, "stats": {
        "rss": 1, "shmem": 2, "total_swap": 3, "hierarchical_memory_limit": 4}},
        "blkio_stats": {"io_service_bytes_recursive": []}}
    out = stats_shape.running(data)
    assert out["memory_stats"] == {"usage": 1, "stats": {"rss": 1, "hierarchical_memory_limit": 4}}
    assert set(out["blkio_stats"]) == set(stats_shape.BLKIO_KEYS)


def test_listed_command_quotes_args_with_spaces():
    assert views._command({"Cmd": ["sh", "-c", "echo hi; sleep 1"]}) == "sh -c 'echo hi; sleep 1'"
    assert views._command({"Entrypoint": ["sleep"], "Cmd": ["300"]}) == "sleep 300"
    assert views._command({}) == ""


def test_inspect_mounts_hide_our_anonymous_flag():
    rec = types.SimpleNamespace(mounts_json=b'[{"Type": "volume", "Name": "v", "Anonymous": true}]')
    assert views.listed_mounts(rec, {}) == [{"Type": "volume", "Name": "v"}]


def test_local_volumes_from_binds_and_mounts_take_mode_z():
    assert cc._bind_entry("vol:/a")["mode"] == "z"
    assert cc._bind_entry("vol:/a:ro")["mode"] == "ro"
    assert cc._bind_entry("/tmp:/a")["mode"] == ""
    assert cc._mount_entry({"Type": "volume", "Source": "vol", "Target": "/g"})["mode"] == "z"


def test_volumes_from_drops_the_mode_and_cannot_make_ro_writable():
    theirs = [{"Type": "volume", "Name": "v", "Destination": "/a", "Mode": "ro", "RW": False},
              {"Type": "bind", "Source": "/tmp", "Destination": "/b", "Mode": "Z", "RW": True}]
    rw = cc.inherited_entries(theirs, "rw")
    assert [(e["mode"], e["rw"]) for e in rw] == [("", False), ("", True)]
    assert [e["rw"] for e in cc.inherited_entries(theirs, "ro")] == [False, False]


def test_host_config_shows_dockerd_create_defaults():
    hc = cc.host_config_defaults({"ShmSize": 0, "PidsLimit": 0, "CgroupnsMode": ""})
    assert hc["ShmSize"] == 67108864 and hc["PidsLimit"] is None
    assert hc["CgroupnsMode"] in ("host", "private") and hc["KernelMemoryTCP"] == 0
    assert "/proc/kcore" in hc["MaskedPaths"] and "/proc/sys" in hc["ReadonlyPaths"]
    priv = cc.host_config_defaults({"Privileged": True})
    assert priv["MaskedPaths"] is None and priv["ReadonlyPaths"] is None
    assert "ExposedPorts" not in cc.config_defaults({"ExposedPorts": {}})
    assert cc.config_defaults({"ExposedPorts": {"80/tcp": {}}})["ExposedPorts"] == {"80/tcp": {}}


def test_volume_created_at_is_whole_seconds():
    assert volume_views.created_at("2026-11-28T23:55:55.875615510Z") == "2026-11-28T23:55:55Z"
    assert volume_views.created_at("2026-11-28T23:55:55+01:00") == "2026-11-28T23:55:55+01:00"


def test_df_shared_image_size():
    class Snap:
        def Usage(self, req):
            return types.SimpleNamespace(size={"sha256:a": 100}.get(req.key, 7))
    clients = types.SimpleNamespace(snapshots=Snap())
    base = types.SimpleNamespace(id="i1", diff_ids=["sha256:a"])
    child = types.SimpleNamespace(id="i2", diff_ids=["sha256:a", "sha256:b"])
    alone = types.SimpleNamespace(id="i3", diff_ids=["sha256:c"])
    assert disk_usage.shared_sizes(clients, [base, child, alone]) == {"i1": 100, "i2": 100, "i3": 0}


def test_boolean_filters_read_as_dockerd_20_10():
    assert exact_bool({"dangling": {"true", "false"}}, "dangling") is True
    assert exact_bool({"dangling": {"0"}}, "dangling") is False
    assert exact_bool({}, "dangling") is None
    with pytest.raises(errors.InvalidArgument, match=r"Invalid filter 'dangling=\[maybe\]'"):
        exact_bool({"dangling": {"maybe"}}, "dangling")


def test_only_json_file_logs_read_back_with_replaced_bytes():
    assert log_format.reader_for("json-file")(b"\xff\n") == b"\xef\xbf\xbd\n"
    assert log_format.reader_for("local")(b"\xff\n") == b"\xff\n"      # protobuf bytes, as stored
