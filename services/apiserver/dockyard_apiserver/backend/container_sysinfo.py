"""What the host's cgroups support, as dockerd's pkg/sysinfo sees it.

dockerd warns about (and discards) a limit the kernel cannot apply instead of handing it to the
runtime: the checks in container_resources.py read these flags.
"""

import os
from dataclasses import dataclass, field

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass
class SysInfo:
    memory_limit: bool = True
    swap_limit: bool = True
    memory_reservation: bool = True
    memory_swappiness: bool = True
    kernel_memory: bool = True
    oom_kill_disable: bool = True
    pids_limit: bool = True
    cpu_shares: bool = True
    cpu_cfs: bool = True
    cpu_rt_period: bool = True
    cpu_rt_runtime: bool = True
    cpuset: bool = True
    blkio_weight: bool = True
    blkio_weight_device: bool = True
    blkio_read_bps: bool = True
    blkio_write_bps: bool = True
    blkio_read_iops: bool = True
    blkio_write_iops: bool = True
    cgroup_namespaces: bool = True
    ipv4_forwarding_disabled: bool = False
    cpus: set = field(default_factory=set)   # empty: not known, anything goes
    mems: set = field(default_factory=set)


def _has(*parts):
    return os.path.exists(os.path.join(CGROUP_ROOT, *parts))


def _forwarding_disabled():
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


def _v1():
    return SysInfo(
        memory_limit=_has("memory"),
        swap_limit=_has("memory", "memory.memsw.limit_in_bytes"),
        memory_reservation=_has("memory", "memory.soft_limit_in_bytes"),
        memory_swappiness=_has("memory", "memory.swappiness"),
        kernel_memory=_has("memory", "memory.kmem.limit_in_bytes"),
        oom_kill_disable=_has("memory", "memory.oom_control"),
        pids_limit=_has("pids"),
        cpu_shares=_has("cpu", "cpu.shares"),
        cpu_cfs=_has("cpu", "cpu.cfs_quota_us"),
        cpu_rt_period=_has("cpu", "cpu.rt_period_us"),
        cpu_rt_runtime=_has("cpu", "cpu.rt_runtime_us"),
        cpuset=_has("cpuset"),
        blkio_weight=_has("blkio", "blkio.weight"),
        blkio_weight_device=_has("blkio", "blkio.weight_device"),
        blkio_read_bps=_has("blkio", "blkio.throttle.read_bps_device"),
        blkio_write_bps=_has("blkio", "blkio.throttle.write_bps_device"),
        blkio_read_iops=_has("blkio", "blkio.throttle.read_iops_device"),
        blkio_write_iops=_has("blkio", "blkio.throttle.write_iops_device"))


def _v2():
    try:
        with open(os.path.join(CGROUP_ROOT, "cgroup.controllers")) as f:
            ctrl = set(f.read().split())
    except OSError:
        ctrl = set()
    mem, cpu, io = "memory" in ctrl, "cpu" in ctrl, "io" in ctrl
    # moby sysinfo_linux.go applyMemoryCgroupInfoV2 etc.: no kmem, swappiness or OOM switch on v2.
    return SysInfo(memory_limit=mem, swap_limit=mem, memory_reservation=mem,
                   memory_swappiness=False, kernel_memory=False, oom_kill_disable=False,
                   pids_limit="pids" in ctrl, cpu_shares=cpu, cpu_cfs=cpu, cpu_rt_period=False,
                   cpu_rt_runtime=False, cpuset="cpuset" in ctrl, blkio_weight=io,
                   blkio_weight_device=io, blkio_read_bps=io, blkio_write_bps=io,
                   blkio_read_iops=io, blkio_write_iops=io)


def probe():
    """The host's SysInfo (cheap: a few stat calls)."""
    from .container_update import available_cpus, available_mems
    info = _v2() if _has("cgroup.controllers") else _v1()
    info.cgroup_namespaces = os.path.exists("/proc/self/ns/cgroup")
    info.ipv4_forwarding_disabled = _forwarding_disabled()
    info.cpus = available_cpus()
    info.mems = available_mems()
    return info
