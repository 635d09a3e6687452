"""The OCI runtime spec of a container, built the way dockerd builds it.

Mirrors moby `oci/defaults.go` (DefaultLinuxSpec) and `daemon/oci_linux.go` (the With* options):
the apiserver calls `build_spec` at container create, the shim-runner calls `resolve_user` once
the rootfs is mounted (the user is resolved inside the container's own /etc/passwd, as runc does).

The namespaces, capabilities, masked paths, device cgroup and seccomp filter (seccomp.py) are Docker's.
"""

import errno
import json
import os
import re
import stat

from . import errors, seccomp

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
USER_ANNOTATION = "org.dockyard.user"
# HostConfig.GroupAdd (JSON list), resolved by shim-runner in the rootfs's /etc/group.
GROUP_ADD_ANNOTATION = "org.dockyard.group-add"
# HostConfig.LogConfig for shim-runner, which checks the values when the task is created (dockerd
# does at start) and rotates the log.
LOG_DRIVER_ANNOTATION = "org.dockyard.log-driver"
LOG_OPTS_ANNOTATION = "org.dockyard.log-opts"
# `--ipc shareable`: shim-runner mounts a tmpfs of this size (bytes) at <bundle>/shm, the
# container's /dev/shm, so that `--ipc container:<it>` containers can bind the same one
# (dockerd's ShmPath). SHM_FROM names that donor in a joiner's spec (set at each start).
SHM_SIZE_ANNOTATION = "org.dockyard.shm-size"
SHM_FROM_ANNOTATION = "org.dockyard.shm-from"
SHM_BUNDLE_DIR = "shm"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_CPU_PERIOD = 100000

DEFAULT_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# Every capability runc 1.1 knows (moby pkg/capabilities: GetAllCapabilities), for "ALL"/privileged.
ALL_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]

MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def _default_mounts(shm_size):
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=%dk" % (shm_size // 1024)]},
    ]


def _cgroup_dev(dev_type, major, minor, allow=True):
    return {"allow": allow, "type": dev_type, "major": major, "minor": minor, "access": "rwm"}


# Deny everything, then Docker's default allow-list (runc appends its own defaults after these).
def _default_device_rules():
    return [
        {"allow": False, "access": "rwm"},
        _cgroup_dev("c", 1, 5), _cgroup_dev("c", 1, 3), _cgroup_dev("c", 1, 9),
        _cgroup_dev("c", 1, 8), _cgroup_dev("c", 5, 0), _cgroup_dev("c", 5, 1),
        _cgroup_dev("c", 10, 229, allow=False),
    ]


# ---------------------------------------------------------------------------
# build_spec
# ---------------------------------------------------------------------------

def build_spec(config, host_config, *, container_id, netns_path, hostname, mounts=(),
               cgroups_path=None):
    """The OCI runtime spec (a dict) for Docker's Config + HostConfig (see module docstring).

    netns_path None means host networking: no network namespace at all.
    """
    config = config or {}
    hc = host_config or {}
    privileged = bool(hc.get("Privileged"))
    tty = bool(config.get("Tty"))

    spec = {
        "ociVersion": OCI_VERSION,
        "process": _process(config, hc, hostname, privileged, tty),
        "root": {"path": "rootfs", "readonly": bool(hc.get("ReadonlyRootfs"))},
        "hostname": hostname or "",
        "mounts": _mounts(hc, mounts, privileged),
        "annotations": {},
        "linux": _linux(config, hc, container_id, netns_path, cgroups_path, privileged),
    }
    filter_ = seccomp.linux_seccomp(hc, spec["process"]["capabilities"]["bounding"], privileged)
    if filter_:
        spec["linux"]["seccomp"] = filter_
    if hc.get("Init"):
        _add_init(spec)
    if _is_host_mode(hc.get("UTSMode")):
        spec.pop("hostname")
    if any(_is_shareable_shm(m) for m in spec["mounts"]):
        spec["annotations"][SHM_SIZE_ANNOTATION] = str(_shm_size(hc))
    # Always: dockerd resolves even the default user (primary gid and /etc/group memberships).
    spec["annotations"][USER_ANNOTATION] = config.get("User") or ""
    if hc.get("GroupAdd"):
        spec["annotations"][GROUP_ADD_ANNOTATION] = json.dumps(list(hc["GroupAdd"]))
    log_config = hc.get("LogConfig")
    if log_config:
        spec["annotations"][LOG_DRIVER_ANNOTATION] = log_config.get("Type") or "json-file"
        spec["annotations"][LOG_OPTS_ANNOTATION] = json.dumps(log_config.get("Config") or {},
                                                              sort_keys=True)
    return spec


# `--init`: as dockerd, bind-mount a static init (tini, Debian's tini-static, dockerd's own
# docker-init) at /sbin/docker-init and run the command under it, so signals are forwarded and
# zombies reaped. DOCKYARD_INIT_PATH chooses the binary.
INIT_TARGET = "/sbin/docker-init"


def init_path():
    return os.environ.get("DOCKYARD_INIT_PATH") or "/usr/bin/tini-static"


def _add_init(spec):
    spec["process"]["args"] = [INIT_TARGET, "--"] + spec["process"]["args"]
    spec["mounts"].append({"destination": INIT_TARGET, "type": "bind", "source": init_path(),
                           "options": ["bind", "ro"]})


def _is_host_mode(mode):
    return (mode or "") == "host"


def _process(config, hc, hostname, privileged, tty):
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    proc = {
        "terminal": tty,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": _env(config.get("Env") or [], hostname, tty),
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": _capabilities(hc, privileged),
    }
    rlimits = _rlimits(hc.get("Ulimits") or [])
    if rlimits:
        proc["rlimits"] = rlimits
    if hc.get("OomScoreAdj"):
        proc["oomScoreAdj"] = int(hc["OomScoreAdj"])
    if _no_new_privileges(hc.get("SecurityOpt") or []):
        proc["noNewPrivileges"] = True
    return proc


def _env(user_env, hostname, tty):
    """container.CreateDaemonEnvironment: PATH, HOSTNAME, TERM, then the user's values win."""
    env = ["PATH=" + DEFAULT_PATH, "HOSTNAME=" + (hostname or "")]
    if tty:
        env.append("TERM=xterm")
    return replace_or_append_env(env, user_env)


def replace_or_append_env(defaults, overrides):
    out = list(defaults)
    index = {item.split("=", 1)[0]: i for i, item in enumerate(out)}
    for item in overrides:
        key = item.split("=", 1)[0]
        if "=" not in item:
            # "KEY" without a value removes the variable (moby ReplaceOrAppendEnvValues).
            if key in index:
                out[index[key]] = None
            continue
        if key in index and out[index[key]] is not None:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return [item for item in out if item is not None]


def _normalize_cap(name):
    name = name.strip().upper()
    if name == "ALL":
        return name
    return name if name.startswith("CAP_") else "CAP_" + name


def tweak_capabilities(base, adds, drops):
    """moby caps.TweakCapabilities: "ALL" in adds or drops, adds win over drops when both name one."""
    adds = [_normalize_cap(c) for c in adds or []]
    drops = [_normalize_cap(c) for c in drops or []]
    for cap in adds + drops:
        if cap != "ALL" and cap not in ALL_CAPABILITIES:
            raise errors.InvalidArgument("invalid capability: %s" % cap)
    if "ALL" in adds:
        return [c for c in ALL_CAPABILITIES if c not in drops or c in adds]
    if "ALL" in drops:
        caps = []
    else:
        caps = [c for c in base if c not in drops]
    for cap in adds:
        if cap not in caps:
            caps.append(cap)
    return caps


def _capabilities(hc, privileged):
    if privileged:
        caps = list(ALL_CAPABILITIES)
    else:
        caps = tweak_capabilities(DEFAULT_CAPABILITIES, hc.get("CapAdd"), hc.get("CapDrop"))
    # Not inheritable/ambient: Docker 20.10.14+ (CVE-2022-24769).
    return {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)}


def _rlimits(ulimits):
    out = []
    for ul in ulimits:
        name = (ul.get("Name") or "").strip().upper()
        if not name:
            continue
        out.append({"type": "RLIMIT_" + name, "soft": int(ul.get("Soft", 0)),
                    "hard": int(ul.get("Hard", 0))})
    return out


def _no_new_privileges(security_opts):
    for opt in security_opts:
        key, sep, value = opt.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and (not sep or value.lower() == "true"):
            return True
    return False


# mounts ---------------------------------------------------------------------

def merge_tmpfs_options(options):
    """moby mount.MergeTmpfsOptions: the last of each flag pair or key=value wins, order kept."""
    pairs = {"ro": "rw", "rw": "ro", "exec": "noexec", "noexec": "exec", "suid": "nosuid",
             "nosuid": "suid", "dev": "nodev", "nodev": "dev"}
    out = []
    for opt in options:
        if not opt:
            continue
        key = opt.split("=", 1)[0]
        kept = []
        for prev in out:
            pkey = prev.split("=", 1)[0]
            if pkey == key or pairs.get(key) == prev:
                continue
            kept.append(prev)
        out = kept + [opt]
    return out


def _tmpfs_mounts(tmpfs):
    out = []
    for dest, data in sorted((tmpfs or {}).items()):
        opts = ["noexec", "nosuid", "nodev", "rprivate"]
        if data:
            opts += data.split(",")
        out.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                    "options": merge_tmpfs_options(opts)})
    return out


def _shm_size(hc):
    return int(hc.get("ShmSize") or 0) or DEFAULT_SHM_SIZE


def shareable_shm_mount(source=SHM_BUNDLE_DIR):
    """/dev/shm bound from a tmpfs outside the container (relative: runc takes it in the bundle)."""
    return {"destination": "/dev/shm", "type": "bind", "source": source,
            "options": ["rbind", "rprivate"]}  # as dockerd: the tmpfs's own flags stay


def _is_shareable_shm(mount):
    return mount == shareable_shm_mount()


def _mounts(hc, extra, privileged):
    defaults = _default_mounts(_shm_size(hc))
    if privileged:
        for m in defaults:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    ipc_mode = hc.get("IpcMode") or ""
    if ipc_mode == "host":
        defaults = [m for m in defaults if m["destination"] != "/dev/shm"]
        defaults.append(shareable_shm_mount("/dev/shm"))
    elif ipc_mode == "none":
        defaults = [m for m in defaults if m["destination"] != "/dev/shm"]
    elif ipc_mode == "shareable":
        defaults = [m for m in defaults if m["destination"] != "/dev/shm"]
        defaults.append(shareable_shm_mount())

    # The caller's mounts win over HostConfig.Tmpfs and over the defaults with the same target.
    user = {}
    for m in _tmpfs_mounts(hc.get("Tmpfs")) + [dict(m) for m in extra or ()]:
        user[os.path.normpath(m["destination"])] = m
    base = [m for m in defaults if m["destination"] not in user]
    # Parents before children (moby sortMounts: by number of path components, stable).
    ordered = sorted(user.values(), key=lambda m: len(os.path.normpath(m["destination"]).split("/")))
    return base + ordered


# linux section ----------------------------------------------------------------

def _linux(config, hc, container_id, netns_path, cgroups_path, privileged):
    namespaces = []
    if not _is_host_mode(hc.get("PidMode")):
        namespaces.append({"type": "pid"})
    if not _is_host_mode(hc.get("IpcMode")):
        namespaces.append({"type": "ipc"})
    if not _is_host_mode(hc.get("UTSMode")):
        namespaces.append({"type": "uts"})
    namespaces.append({"type": "mount"})
    if netns_path:
        namespaces.append({"type": "network", "path": netns_path})

    linux = {
        "namespaces": namespaces,
        "resources": linux_resources(hc, privileged),
        "cgroupsPath": _cgroups_path(hc, container_id, cgroups_path),
        "maskedPaths": [] if privileged else list(MASKED_PATHS),
        "readonlyPaths": [] if privileged else list(READONLY_PATHS),
    }
    if privileged:
        linux["devices"] = host_devices()  # and every device allowed: Devices are not needed
    else:
        devices, rules = custom_devices(hc.get("Devices") or [])
        rules += device_cgroup_rules(hc.get("DeviceCgroupRules") or [])
        if devices:
            linux["devices"] = devices
        linux["resources"]["devices"] += rules
    sysctl = dict(hc.get("Sysctls") or {})
    if config.get("Domainname") and not _is_host_mode(hc.get("UTSMode")):
        sysctl["kernel.domainname"] = config["Domainname"]
    if sysctl:
        linux["sysctl"] = sysctl
    return linux


def _cgroups_path(hc, container_id, default):
    """--cgroup-parent replaces the default parent (cgroupfs driver: filepath.Join(parent, id));
    a relative one stays relative, so runc resolves it as under dockerd."""
    parent = hc.get("CgroupParent") or ""
    if parent:
        return os.path.normpath(os.path.join(parent, container_id))
    return default or "/dockyard/%s" % container_id


def swap_limit_supported():
    return os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") or \
        os.path.exists("/sys/fs/cgroup/memory.swap.max") or \
        os.path.exists("/sys/fs/cgroup/unified/memory.swap.max")


def linux_resources(hc, privileged):
    res = {"devices": [{"allow": True, "access": "rwm"}] if privileged else _default_device_rules()}

    memory = {}
    limit = int(hc.get("Memory") or 0)
    if limit > 0:
        memory["limit"] = limit
    if hc.get("MemoryReservation"):
        memory["reservation"] = int(hc["MemoryReservation"])
    swap = int(hc.get("MemorySwap") or 0)
    if swap == 0 and limit > 0:
        swap = 2 * limit  # dockerd's default: as much swap as memory
    if swap and limit > 0 and swap_limit_supported():
        memory["swap"] = swap  # -1 = unlimited
    if hc.get("MemorySwappiness") is not None and int(hc["MemorySwappiness"]) >= 0:
        memory["swappiness"] = int(hc["MemorySwappiness"])
    if hc.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        res["memory"] = memory

    cpu = {}
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    nano = int(hc.get("NanoCpus") or 0)
    if nano > 0:
        cpu["period"] = DEFAULT_CPU_PERIOD
        cpu["quota"] = nano * DEFAULT_CPU_PERIOD // 1_000_000_000
    else:
        if hc.get("CpuPeriod"):
            cpu["period"] = int(hc["CpuPeriod"])
        if hc.get("CpuQuota"):
            cpu["quota"] = int(hc["CpuQuota"])
    if hc.get("CpuRealtimePeriod"):
        cpu["realtimePeriod"] = int(hc["CpuRealtimePeriod"])
    if hc.get("CpuRealtimeRuntime"):
        cpu["realtimeRuntime"] = int(hc["CpuRealtimeRuntime"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        res["cpu"] = cpu

    pids = hc.get("PidsLimit")
    if pids is not None and int(pids) != 0:
        res["pids"] = {"limit": int(pids) if int(pids) > 0 else -1}

    block_io = _block_io(hc)
    if block_io:
        res["blockIO"] = block_io
    return res


_THROTTLES = (("BlkioDeviceReadBps", "throttleReadBpsDevice", "Rate"),
              ("BlkioDeviceWriteBps", "throttleWriteBpsDevice", "Rate"),
              ("BlkioDeviceReadIOps", "throttleReadIOPSDevice", "Rate"),
              ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice", "Rate"),
              ("BlkioWeightDevice", "weightDevice", "Weight"))


def _block_io(hc):
    """blockIO: the weight and the per-device rules (by the host node's major:minor; a node
    that is gone is left out: the apiserver checked them at create)."""
    out = {"weight": int(hc["BlkioWeight"])} if hc.get("BlkioWeight") else {}
    for key, oci_key, field in _THROTTLES:
        rules = []
        for dev in hc.get(key) or []:
            try:
                rdev = os.stat(dev.get("Path") or "").st_rdev
            except OSError:
                continue
            value = int(dev.get(field) or 0)
            rules.append({"major": os.major(rdev), "minor": os.minor(rdev),
                          ("weight" if field == "Weight" else "rate"): value})
        if rules:
            out[oci_key] = rules
    return out


# --device / --device-cgroup-rule (moby oci.DevicesFromPath, AppendDevicePermissionsFromCgroupRules).
# dockerd finds these errors when it builds the spec at start and answers 500; we find them at
# create, and bad input is a 400 here.

class NotADevice(Exception):
    pass


def _device_from_path(path, permissions):
    """(OCI device, cgroup rule) for a device node; OSError or NotADevice otherwise."""
    st = os.lstat(path)
    kind = {stat.S_IFCHR: "c", stat.S_IFBLK: "b", stat.S_IFIFO: "p"}.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        raise NotADevice("not a device node")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    device = {"path": path, "type": kind, "major": major, "minor": minor,
              "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": permissions}
    return device, rule


def devices_from_path(host_path, container_path, permissions):
    """One HostConfig.Devices item: the node itself, or every node under a host directory."""
    resolved = host_path
    if os.path.islink(host_path):
        resolved = os.path.realpath(host_path)
    try:
        device, rule = _device_from_path(resolved, permissions)
        device["path"] = container_path
        return [device], [rule]
    except (OSError, NotADevice) as exc:
        err = exc
    devices, rules = [], []
    if isinstance(err, NotADevice) and os.path.isdir(resolved):
        for dirpath, dirnames, filenames in os.walk(resolved):
            dirnames.sort()  # symlinked directories are not followed (filepath.Walk)
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    device, rule = _device_from_path(path, permissions)
                except (OSError, NotADevice):
                    continue
                device["path"] = path.replace(resolved, container_path, 1)
                devices.append(device)
                rules.append(rule)
    if devices:
        return devices, rules
    reason = err.strerror.lower() if isinstance(err, OSError) and err.strerror else str(err)
    raise errors.InvalidArgument("error gathering device information while adding custom device %s: %s"
                          % (json.dumps(host_path), reason))


def custom_devices(mappings):
    devices, rules = [], []
    for m in mappings:
        host = m.get("PathOnHost") or ""
        d, r = devices_from_path(host, m.get("PathInContainer") or host,
                                 m.get("CgroupPermissions") or "rwm")
        devices += d
        rules += r
    return devices, rules


DEVICE_CGROUP_RULE_RE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
MAX_INT64 = 2 ** 63 - 1


def device_cgroup_rules(rules):
    """HostConfig.DeviceCgroupRules ("c 1:3 rwm", "a *:* m") as OCI device cgroup entries."""
    out = []
    for text in rules:
        m = DEVICE_CGROUP_RULE_RE.match(text)
        if not m:
            raise errors.InvalidArgument("invalid device cgroup rule format: '%s'" % text)
        entry = {"allow": True, "type": m.group(1), "access": m.group(4)}
        for key, value in (("major", m.group(2)), ("minor", m.group(3))):
            number = -1 if value == "*" else int(value)
            if number > MAX_INT64:
                raise errors.InvalidArgument("invalid %s value in device cgroup rule format: '%s'"
                                      % (key, text))
            entry[key] = number
        out.append(entry)
    return out


def host_devices(root="/dev"):
    """Every device node under /dev (moby devices.HostDevices), for privileged containers."""
    out = []
    skip = {"/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/.lxc", "/dev/.udev"}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if path == "/dev/console":
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode):
                kind = "c"
            elif stat.S_ISBLK(st.st_mode):
                kind = "b"
            else:
                continue
            out.append({"path": path, "type": kind, "major": os.major(st.st_rdev),
                        "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
                        "uid": st.st_uid, "gid": st.st_gid})
    return out



# ---------------------------------------------------------------------------
# resolve_user
# ---------------------------------------------------------------------------

MAX_SYMLINKS = 255


def secure_join(root, path):
    """root + path with every symlink resolved as if root were "/" (never escapes root)."""
    root = os.path.abspath(root)
    parts = [p for p in path.split("/") if p and p != "."]
    resolved = []  # components below root
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except OSError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, "too many symlinks", path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _read_db(rootfs, path):
    """Lines of rootfs/path split on ":", or None when the file does not exist."""
    try:
        full = secure_join(rootfs, path)
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "r", errors="replace") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        rows = []
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rows.append(line.split(":"))
        return rows


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _passwd_entries(rows):
    for row in rows or []:
        row = row + [""] * (7 - len(row))
        uid, gid = _int(row[2]), _int(row[3])
        if uid is None or gid is None:
            continue
        yield {"name": row[0], "uid": uid, "gid": gid, "home": row[5]}


def _group_entries(rows):
    for row in rows or []:
        row = row + [""] * (4 - len(row))
        gid = _int(row[2])
        if gid is None:
            continue
        yield {"name": row[0], "gid": gid, "members": [m for m in row[3].split(",") if m]}


def resolve_user(rootfs, user):
    """Docker's (runc libcontainer/user GetExecUser) reading of "name|uid[:group|gid]".

    Returns (uid, gid, additional_gids, home).
    """
    user = user or ""
    user_arg, _, group_arg = user.partition(":")
    uid_num, gid_num = _int(user_arg), _int(group_arg)
    if (user_arg and uid_num is not None and uid_num < 0) or \
            (group_arg and gid_num is not None and gid_num < 0):
        raise errors.InvalidArgument("user %s: uids and gids must be in range 0-2147483647" % user)

    uid, gid, home, name = 0, 0, "/", ""
    passwd = _read_db(rootfs, "/etc/passwd")
    match = None
    for entry in _passwd_entries(passwd):
        if not user_arg:
            hit = entry["uid"] == 0
        elif uid_num is not None:
            hit = entry["uid"] == uid_num
        else:
            hit = entry["name"] == user_arg
        if hit:
            match = entry
            break
    if match:
        uid, gid, home, name = match["uid"], match["gid"], match["home"] or "/", match["name"]
    elif user_arg:
        if uid_num is None:
            raise errors.InvalidArgument(
                "unable to find user %s: no matching entries in passwd file" % user_arg)
        uid = uid_num

    additional = []
    if group_arg or name:
        groups = _group_entries(_read_db(rootfs, "/etc/group"))
        if group_arg:
            found = None
            for g in groups:
                if (gid_num is not None and g["gid"] == gid_num) or \
                        (gid_num is None and g["name"] == group_arg):
                    found = g
                    break
            if found:
                gid = found["gid"]
            elif gid_num is not None:
                gid = gid_num
            else:
                raise errors.InvalidArgument(
                    "unable to find group %s: no matching entries in group file" % group_arg)
        else:
            additional = [g["gid"] for g in groups if name in g["members"]]
    return uid, gid, additional, home


GID_MAX = 2 ** 31 - 1
_GO_INT64 = re.compile(r"^[+-]?[0-9]+$")


def additional_groups(rootfs, group_add):
    """runc user.GetAdditionalGroups for HostConfig.GroupAdd: each item is a group name or gid in
    the rootfs's /etc/group, or else a bare number. Duplicates drop out (dockerd keeps them in a
    Go map, in random order; we keep the given order)."""
    if not group_add:
        return []
    wanted = set(group_add)
    groups = [g for g in _group_entries(_read_db(rootfs, "/etc/group"))
              if g["name"] in wanted or str(g["gid"]) in wanted]
    out = []
    for item in group_add:
        found = False
        for g in groups:
            # The first entry not taken yet wins; one already taken does not count as found.
            if (g["name"] == item or str(g["gid"]) == item) and g["gid"] not in out:
                out.append(g["gid"])
                found = True
                break
        if found:
            continue
        gid = int(item) if _GO_INT64.match(item) else None
        if gid is None or not -2 ** 63 <= gid < 2 ** 63:
            raise errors.InvalidArgument(
                "Unable to find group %s: no matching entries in group file" % item)
        if not 0 <= gid <= GID_MAX:
            raise errors.InvalidArgument("uids and gids must be in range 0-%d" % GID_MAX)
        if gid not in out:
            out.append(gid)
    return out
