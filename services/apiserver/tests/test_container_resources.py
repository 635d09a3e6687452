"""dockerd's create-time resource checks: warnings, discards and 400s (Docker 20.10 wording)."""

import pytest

from dockyard_common import errors, oci

from dockyard_apiserver.backend import container_config as cc
from dockyard_apiserver.backend import container_resources as cr
from dockyard_apiserver.backend.container_sysinfo import SysInfo
from dockyard_apiserver.backend.container_update import normalize, verify


def info(**kw):
    base = dict(cpus={0, 1}, mems={0})
    base.update(kw)
    return SysInfo(**base)


def test_blkio_weight_discarded_without_the_cgroup_file():
    hc = {"BlkioWeight": 300, "BlkioWeightDevice": [{"Path": "/dev/null", "Weight": 200}]}
    warnings = cc.validate_host_config(hc, info(blkio_weight=False, blkio_weight_device=False))
    assert warnings == [
        "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
        "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
        "Weight-device discarded."]
    assert hc["BlkioWeight"] == 0 and hc["BlkioWeightDevice"] == []


def test_blkio_weight_range_when_supported():
    with pytest.raises(errors.InvalidArgument, match="Range of blkio weight is from 10 to 1000"):
        cc.validate_host_config({"BlkioWeight": 5}, info())


def test_kernel_memory_is_deprecated_and_has_a_minimum():
    assert cc.validate_host_config({"KernelMemory": 10 << 20}, info()) == [
        "Specifying a kernel memory limit is deprecated and will be removed in a future release."]
    with pytest.raises(errors.InvalidArgument, match="Minimum kernel memory limit allowed is 6MB"):
        cc.validate_host_config({"KernelMemory": 1 << 20}, info())


def test_oom_kill_disable_without_memory_limit_warns():
    assert cc.validate_host_config({"OomKillDisable": True}, info()) == [
        "OOM killer is disabled for the container, but no memory limit is set, this can result "
        "in the system running out of resources."]
    assert cc.validate_host_config({"OomKillDisable": True, "Memory": 10 << 20}, info()) == []


@pytest.mark.parametrize("hc, message", [
    ({"Memory": 4 << 20}, "Minimum memory limit allowed is 6MB"),
    ({"MemorySwap": 20 << 20}, "You should always set the Memory limit when using Memoryswap limit"),
    ({"Memory": 10 << 20, "MemorySwap": 5 << 20}, "Minimum memoryswap limit should be larger"),
    ({"MemoryReservation": 1 << 20}, "Minimum memory reservation allowed is 6MB"),
    ({"Memory": 10 << 20, "MemoryReservation": 20 << 20},
     "Minimum memory limit can not be less than memory reservation limit"),
    ({"MemorySwappiness": 150}, "Invalid value: 150, valid memory swappiness range is 0-100"),
    ({"NanoCpus": 10 ** 9, "CpuQuota": 50000}, "Nano CPUs and CPU Quota cannot both be set"),
    ({"NanoCpus": 10 ** 9, "CpuPeriod": 50000}, "Nano CPUs and CPU Period cannot both be set"),
    ({"NanoCpus": 100 * 10 ** 9}, r"Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs"),
    ({"NanoCpus": -1}, r"Range of CPUs is from 0.01 to 2.00"),
    ({"CpuPeriod": 100}, r"CPU cfs period can not be less than 1ms \(i.e. 1000\)"),
    ({"CpuQuota": 100}, r"CPU cfs quota can not be less than 1ms \(i.e. 1000\)"),
    ({"CpusetCpus": "99"}, "Requested CPUs are not available - requested 99, available: 0-1"),
    ({"CpusetCpus": "x"}, "Invalid value x for cpuset cpus: invalid format: x"),
    ({"CpusetMems": "5"}, "Requested memory nodes are not available - requested 5, available: 0"),
    ({"CpuRealtimePeriod": 100, "CpuRealtimeRuntime": 1000},
     "cpu real-time runtime cannot be higher than cpu real-time period"),
    ({"OomScoreAdj": 2000}, r"Invalid value 2000, range for oom score adj is \[-1000, 1000\]"),
    ({"Runtime": "bogus"}, "Unknown runtime specified bogus"),
    ({"BlkioDeviceReadBps": [{"Path": "/dev/no-such-dev", "Rate": 1}]},
     "stat /dev/no-such-dev: no such file or directory"),
])
def test_bad_values_are_400(hc, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        cc.validate_host_config(hc, info())


def test_realtime_needs_the_cgroup_files():
    with pytest.raises(errors.InvalidArgument, match="does not support cgroup cpu real-time runtime"):
        cc.validate_host_config({"CpuRealtimeRuntime": 100}, info(cpu_rt_runtime=False))


def test_swappiness_minus_one_means_default():
    hc = {"MemorySwappiness": -1}
    assert cc.validate_host_config(hc, info(memory_swappiness=False)) == []
    assert hc["MemorySwappiness"] is None


def test_throttle_discarded_when_unsupported():
    hc = {"BlkioDeviceWriteIOps": [{"Path": "/dev/no-such-dev", "Rate": 1}]}
    assert cc.validate_host_config(hc, info(blkio_write_iops=False)) == [
        "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. "
        "Block I/O IOPS write limit discarded."]
    assert hc["BlkioDeviceWriteIOps"] == []


def test_host_network_with_ports_warns():
    hc = {"NetworkMode": "host", "PortBindings": {"80/tcp": [{"HostPort": "80"}]}}
    assert cr.verify_settings(hc, info()) == ["Published ports are discarded when using host network mode"]


def test_update_discards_blkio_weight_without_support():
    upd = normalize({"BlkioWeight": 300})
    assert verify(upd, cpus={0, 1}, mems={0}, info=info(blkio_weight=False)) == [
        "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."]
    assert upd["BlkioWeight"] == 0


def test_oci_resources_carry_realtime_and_block_devices():
    res = oci.linux_resources({"CpuRealtimePeriod": 1000000, "CpuRealtimeRuntime": 100,
                               "BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1048576}],
                               "BlkioDeviceWriteIOps": [{"Path": "/dev/gone", "Rate": 5}]}, False)
    assert res["cpu"]["realtimePeriod"] == 1000000 and res["cpu"]["realtimeRuntime"] == 100
    assert res["blockIO"] == {"throttleReadBpsDevice": [{"major": 1, "minor": 3, "rate": 1048576}]}


@pytest.mark.parametrize("hc, message", [
    ({"Isolation": "hyperv"}, "Invalid isolation: \"hyperv\" - linux only supports 'default'"),
    ({"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]},
     r'could not select device driver "" with capabilities: \[\[gpu\]\]'),
    ({"DeviceRequests": [{"Driver": "nvidia", "Capabilities": [["gpu", "utility"], ["compute"]]}]},
     r'could not select device driver "nvidia" with capabilities: \[\[gpu utility\] \[compute\]\]'),
])
def test_settings_this_host_cannot_honour(hc, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        cc.validate_host_config(hc, info())


def test_a_runtime_without_its_binary_is_unknown(monkeypatch):
    from dockyard_apiserver.backend import container_resources
    monkeypatch.setattr(container_resources, "installed_runtimes", lambda: ["runc"])
    with pytest.raises(errors.InvalidArgument, match="^Unknown runtime specified crun$"):
        cc.validate_host_config({"Runtime": "crun"}, info())
    cc.validate_host_config({"Runtime": "runc"}, info())


def test_a_volume_plugin_is_not_found():
    with pytest.raises(errors.NotFound, match='^error looking up volume plugin foo: plugin "foo" not found$'):
        cc.validate_host_config({"VolumeDriver": "foo"}, info())
    cc.validate_host_config({"VolumeDriver": "local"}, info())


def test_a_bad_stop_signal_fails_before_anything_else():
    with pytest.raises(errors.InvalidArgument, match="^Invalid signal: FOO$"):
        cc.split_create_body({"Image": "busybox", "StopSignal": "FOO"})
    assert cc.split_create_body({"Image": "busybox", "StopSignal": "SIGUSR1"})[0]["StopSignal"] == "SIGUSR1"
