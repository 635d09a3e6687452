"""dockerd's create-time checks of HostConfig resources and platform settings.

moby runconfig validateResources (cpu real-time), daemon verifyPlatformContainerResources and
verifyPlatformContainerSettings (Docker 20.10): a limit the host cannot apply is discarded with
a warning (the create answer's Warnings, printed by the CLI), a bad value is a 400. `hc` is
changed in place as dockerd changes it, so inspect shows what was kept.
"""

import errno
import os
import shutil

from dockyard_common import errors

from .container_update import _format_list, parse_cpu_list

MIN_MEMORY = 6 * 1024 * 1024
THROTTLE_KEYS = ("BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                 "BlkioDeviceWriteIOps")
# The runtimes dockerd knows (its default config: runc); dockyard also runs crun.
RUNTIMES = ("runc", "crun")


def _int(hc, key):
    try:
        return int(hc.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def installed_runtimes():
    """The runtimes dockyard drives whose binary this host has (crun is optional)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    return [name for name in RUNTIMES if shutil.which(name, path=path)]


def _bad(message):
    return errors.InvalidArgument(message)


def check_realtime(hc, info):
    """runconfig validateResources: decoded before anything else is looked at."""
    period, runtime = _int(hc, "CpuRealtimePeriod"), _int(hc, "CpuRealtimeRuntime")
    if period > 0 and not info.cpu_rt_period:
        raise _bad("Your kernel does not support cgroup cpu real-time period")
    if runtime > 0 and not info.cpu_rt_runtime:
        raise _bad("Your kernel does not support cgroup cpu real-time runtime")
    if period and runtime and runtime > period:
        raise _bad("cpu real-time runtime cannot be higher than cpu real-time period")


def _memory(hc, info, update, warn):
    if hc.get("MemorySwappiness") is not None and int(hc["MemorySwappiness"]) == -1:
        hc["MemorySwappiness"] = None   # fixMemorySwappiness: -1 means "the default"
    memory, swap = _int(hc, "Memory"), _int(hc, "MemorySwap")
    if memory != 0 and memory < MIN_MEMORY:
        raise _bad("Minimum memory limit allowed is 6MB")
    if memory > 0 and not info.memory_limit:
        warn("Your kernel does not support memory limit capabilities or the cgroup is not "
             "mounted. Limitation discarded.")
        memory = hc["Memory"] = 0
        swap = hc["MemorySwap"] = -1
    if memory > 0 and swap != -1 and not info.swap_limit:
        warn("Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
             "Memory limited without swap.")
        swap = hc["MemorySwap"] = -1
    if memory > 0 and 0 < swap < memory:
        raise _bad("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory == 0 and swap > 0 and not update:
        raise _bad("You should always set the Memory limit when using Memoryswap limit, see usage")
    if hc.get("MemorySwappiness") is not None and not info.memory_swappiness:
        warn("Your kernel does not support memory swappiness capabilities or the cgroup is not "
             "mounted. Memory swappiness discarded.")
        hc["MemorySwappiness"] = None
    if hc.get("MemorySwappiness") is not None:
        swappiness = int(hc["MemorySwappiness"])
        if swappiness < 0 or swappiness > 100:
            raise _bad("Invalid value: %d, valid memory swappiness range is 0-100" % swappiness)
    reservation = _int(hc, "MemoryReservation")
    if reservation > 0 and not info.memory_reservation:
        warn("Your kernel does not support memory soft limit capabilities or the cgroup is not "
             "mounted. Limitation discarded.")
        reservation = hc["MemoryReservation"] = 0
    if 0 < reservation < MIN_MEMORY:
        raise _bad("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise _bad("Minimum memory limit can not be less than memory reservation limit, see usage")
    kmem = _int(hc, "KernelMemory")
    if kmem > 0:
        warn("Specifying a kernel memory limit is deprecated and will be removed in a future "
             "release.")
    if kmem > 0 and not info.kernel_memory:
        warn("Your kernel does not support kernel memory limit capabilities or the cgroup is not "
             "mounted. Limitation discarded.")
        kmem = hc["KernelMemory"] = 0
    if 0 < kmem < MIN_MEMORY:
        raise _bad("Minimum kernel memory limit allowed is 6MB")
    if hc.get("OomKillDisable") is not None and not info.oom_kill_disable:
        if hc["OomKillDisable"]:
            warn("Your kernel does not support OomKillDisable. OomKillDisable discarded.")
        hc["OomKillDisable"] = None
    if hc.get("OomKillDisable") and memory == 0:
        warn("OOM killer is disabled for the container, but no memory limit is set, this can "
             "result in the system running out of resources.")
    if hc.get("PidsLimit") is not None and not info.pids_limit:
        if _int(hc, "PidsLimit") > 0:
            warn("Your kernel does not support PIDs limit capabilities or the cgroup is not "
                 "mounted. PIDs limit discarded.")
        hc["PidsLimit"] = None


def _cpu(hc, info, warn):
    nano, period, quota = _int(hc, "NanoCpus"), _int(hc, "CpuPeriod"), _int(hc, "CpuQuota")
    if nano > 0 and period > 0:
        raise _bad("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise _bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano > 0 and not info.cpu_cfs:
        raise _bad("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler "
                   "or the cgroup is not mounted")
    ncpu = len(info.cpus) or os.cpu_count() or 1
    if nano < 0 or nano > ncpu * 10 ** 9:
        raise _bad("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available"
                   % (ncpu, ncpu))
    if _int(hc, "CpuShares") > 0 and not info.cpu_shares:
        warn("Your kernel does not support CPU shares or the cgroup is not mounted. Shares "
             "discarded.")
        hc["CpuShares"] = 0
    if (period or quota) and not info.cpu_cfs:
        warn("Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.")
        period = quota = hc["CpuPeriod"] = hc["CpuQuota"] = 0
    if period != 0 and (period < 1000 or period > 1000000):
        raise _bad("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s "
                   "(i.e. 1000000)")
    if 0 < quota < 1000:
        raise _bad("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if _int(hc, "CpuPercent") > 0:
        warn("linux does not support CPU percent. Percent discarded.")
        hc["CpuPercent"] = 0
    if (hc.get("CpusetCpus") or hc.get("CpusetMems")) and not info.cpuset:
        warn("Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.")
        hc["CpusetCpus"] = hc["CpusetMems"] = ""
    for key, what, avail, label in (("CpusetCpus", "cpuset cpus", info.cpus, "CPUs"),
                                    ("CpusetMems", "cpuset mems", info.mems, "memory nodes")):
        value = hc.get(key) or ""
        if not value:
            continue
        try:
            wanted = parse_cpu_list(value)
        except ValueError as exc:
            raise _bad("Invalid value %s for %s: %s" % (value, what, exc)) from None
        if avail and not wanted <= avail:
            raise _bad("Requested %s are not available - requested %s, available: %s"
                       % (label, value, _format_list(avail)))


def _blkio(hc, info, warn):
    if _int(hc, "BlkioWeight") > 0 and not info.blkio_weight:
        warn("Your kernel does not support Block I/O weight or the cgroup is not mounted. "
             "Weight discarded.")
        hc["BlkioWeight"] = 0
    weight = _int(hc, "BlkioWeight")
    if weight > 0 and (weight < 10 or weight > 1000):
        raise _bad("Range of blkio weight is from 10 to 1000")
    if _int(hc, "IOMaximumBandwidth") or _int(hc, "IOMaximumIOps"):
        raise _bad("Invalid QoS settings: linux does not support Maximum IO Bandwidth or "
                   "Maximum IO IOps")
    for key, supported, message in (
            ("BlkioWeightDevice", info.blkio_weight_device,
             "Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."),
            ("BlkioDeviceReadBps", info.blkio_read_bps,
             "BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit "
             "discarded."),
            ("BlkioDeviceWriteBps", info.blkio_write_bps,
             "BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit "
             "discarded."),
            ("BlkioDeviceReadIOps", info.blkio_read_iops,
             "IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit "
             "discarded."),
            ("BlkioDeviceWriteIOps", info.blkio_write_iops,
             "IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit "
             "discarded.")):
        if hc.get(key) and not supported:
            warn("Your kernel does not support " + message)
            hc[key] = []


def verify_resources(hc, info, update=False):
    """verifyPlatformContainerResources: the warnings; InvalidArgument for a bad value."""
    warnings = []
    _memory(hc, info, update, warnings.append)
    _cpu(hc, info, warnings.append)
    _blkio(hc, info, warnings.append)
    return warnings


def verify_settings(hc, info):
    """verifyPlatformContainerSettings after the resources: namespaces, shm, OOM score,
    network warnings, runtime, cgroupns."""
    warnings = []
    # An unknown IpcMode passes here: dockerd 20.10 creates the container and fails its start.
    if _int(hc, "ShmSize") < 0:
        raise _bad("SHM size can not be less than 0")
    adj = _int(hc, "OomScoreAdj")
    if adj < -1000 or adj > 1000:
        raise _bad("Invalid value %d, range for oom score adj is [-1000, 1000]" % adj)
    mode = hc.get("NetworkMode") or ""
    if info.ipv4_forwarding_disabled and mode not in ("host", "none"):
        warnings.append("IPv4 forwarding is disabled. Networking will not work.")
    if mode == "host" and hc.get("PortBindings"):
        warnings.append("Published ports are discarded when using host network mode")
    runtime = hc.get("Runtime") or ""
    if runtime and runtime not in installed_runtimes():
        raise _bad("Unknown runtime specified %s" % runtime)
    isolation = hc.get("Isolation") or ""
    if isolation not in ("", "default"):
        raise _bad('Invalid isolation: "%s" - linux only supports \'default\'' % isolation)
    for req in hc.get("DeviceRequests") or []:
        # no device driver (nvidia, cdi) is registered here: dockerd's handleDevice error
        caps = "[%s]" % " ".join("[%s]" % " ".join(c or []) for c in (req or {}).get("Capabilities") or [])
        raise _bad('could not select device driver "%s" with capabilities: %s'
                   % ((req or {}).get("Driver") or "", caps))
    if hc.get("CgroupnsMode") == "private" and not info.cgroup_namespaces:
        warnings.append("Your kernel does not support cgroup namespaces.  Cgroup namespace "
                        "setting discarded.")
    return warnings


def check_block_devices(hc):
    """The --blkio-weight-device / --device-*-bps/iops paths must exist: dockerd stats them
    when it builds the spec (moby getBlkioWeightDevices / getBlkioThrottleDevices)."""
    for key in ("BlkioWeightDevice",) + THROTTLE_KEYS:
        for dev in hc.get(key) or []:
            path = (dev or {}).get("Path") or ""
            try:
                os.stat(path)
            except OSError as exc:
                text = os.strerror(exc.errno or errno.ENOENT)
                raise _bad("stat %s: %s" % (path, text[:1].lower() + text[1:])) from None
