"""Pure helpers for container create: validation, image defaults, volumes/binds/mounts planning.

Nothing here calls a service; backend/containers.py does the orchestration.
"""

import os
import re
import signal as _signal

from dockyard_common import errors, seccomp

from .. import api_types, gojson
from . import container_health, container_ports, container_resources, container_sysinfo
from . import log_config, storage_opts

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")


def validate_name(name):
    if not NAME_RE.match(name):
        raise errors.InvalidArgument(
            "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" % name)
    return name.lstrip("/")


def check_create_body(body):
    """The create (and commit) body: every field of the JSON type dockerd decodes it into."""
    gojson.check(body, api_types.CONTAINER_CREATE)
    if not isinstance(body, dict) or not body or not body.get("Image"):
        raise errors.InvalidArgument("Config cannot be empty in order to create a container")
    return body


def split_create_body(body):
    """(Config, HostConfig, NetworkingConfig) from the create body."""
    config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    # before any lookup, as dockerd's verifyContainerSettings
    if config.get("StopSignal"):
        parse_signal(config["StopSignal"])
    container_health.validate(config.get("Healthcheck"))
    host_config = dict(body.get("HostConfig") or {})
    networking = dict(body.get("NetworkingConfig") or {})
    return config, host_config, networking


def validate_host_config(hc, info=None):
    """dockerd's create-time checks (in its order); returns the warnings for the create answer.
    info: the host's SysInfo (probed when None)."""
    info = info or container_sysinfo.probe()
    container_resources.check_realtime(hc, info)   # runconfig decode, before all else
    policy = hc.get("RestartPolicy") or {}
    name = policy.get("Name") or ""
    if name not in RESTART_POLICIES:
        raise errors.InvalidArgument(
            "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'" % name)
    if int(policy.get("MaximumRetryCount") or 0) < 0:
        raise errors.InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if name not in ("on-failure",) and int(policy.get("MaximumRetryCount") or 0) > 0:
        raise errors.InvalidArgument(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if name and name != "no" and hc.get("AutoRemove"):
        raise errors.InvalidArgument(
            "can't create 'AutoRemove' container with restart policy")
    container_ports.validate(hc)
    driver = hc.get("VolumeDriver") or ""
    if driver not in ("", "local"):     # no volume plugins here (the CLI then tries a pull)
        raise errors.NotFound('error looking up volume plugin %s: plugin "%s" not found'
                              % (driver, driver))
    warnings = container_resources.verify_resources(hc, info)
    warnings += container_resources.verify_settings(hc, info)
    container_resources.check_block_devices(hc)
    log_config.validate(hc)
    seccomp.parse_security_opts(hc.get("SecurityOpt"))  # dockerd's parseSecurityOpt, at create
    storage_opts.validate(hc)
    return warnings


def _env_key(item):
    return item.split("=", 1)[0]


def merge_image_config(config, image_config):
    """moby daemon/commit.go merge(): fill the user's Config from the image's defaults."""
    img = image_config or {}
    out = dict(config)
    if not out.get("User"):
        out["User"] = img.get("User") or ""
    ports = dict(img.get("ExposedPorts") or {})
    ports.update(out.get("ExposedPorts") or {})
    out["ExposedPorts"] = ports or None
    user_env = list(out.get("Env") or [])
    if not user_env:
        out["Env"] = list(img.get("Env") or [])
    else:
        keys = {_env_key(e) for e in user_env}
        out["Env"] = user_env + [e for e in img.get("Env") or [] if _env_key(e) not in keys]
    labels = dict(img.get("Labels") or {})
    labels.update(out.get("Labels") or {})
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = img.get("Cmd")
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = img.get("Entrypoint")
    if not out.get("WorkingDir"):
        out["WorkingDir"] = img.get("WorkingDir") or ""
    volumes = dict(img.get("Volumes") or {})
    volumes.update(out.get("Volumes") or {})
    out["Volumes"] = volumes or None
    if not out.get("StopSignal") and img.get("StopSignal"):
        out["StopSignal"] = img["StopSignal"]
    if img.get("Healthcheck"):
        out["Healthcheck"] = container_health.merge(out.get("Healthcheck"), img["Healthcheck"])
    if not out.get("OnBuild") and img.get("OnBuild"):
        out["OnBuild"] = img["OnBuild"]
    if not out.get("Shell") and img.get("Shell"):
        out["Shell"] = img["Shell"]
    if not (out.get("Entrypoint") or []) and not (out.get("Cmd") or []):
        raise errors.InvalidArgument("No command specified")
    return out


def config_defaults(config):
    """Docker's Config with every field present (as inspect shows it)."""
    base = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
            "AttachStdout": False, "AttachStderr": False, "Tty": False,
            "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None, "Image": "",
            "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": {}}
    base.update({k: v for k, v in config.items() if k not in ("HostConfig", "NetworkingConfig")})
    if not base.get("ExposedPorts"):
        base.pop("ExposedPorts", None)   # `json:",omitempty"` in moby's container.Config
    return base


# runc's (and so moby's oci.DefaultSpec) masked and read-only /proc paths: dockerd records them in
# HostConfig at create for every unprivileged container that names none.
DEFAULT_MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
DEFAULT_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def host_config_defaults(hc):
    base = {"Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
            "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
            "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None,
            "CgroupnsMode": "host", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
            "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0,
            "PidMode": "", "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False,
            "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864, "Runtime": "runc",
            "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
            "BlkioWeight": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpusetCpus": "", "CpusetMems": "",
            "Devices": [], "KernelMemory": 0, "KernelMemoryTCP": 0, "MemoryReservation": 0,
            "MemorySwap": 0,
            "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None, "Ulimits": None,
            "MaskedPaths": None, "ReadonlyPaths": None}
    for k, v in hc.items():
        if v is not None or k not in base:
            base[k] = v
    if not (base.get("RestartPolicy") or {}).get("Name"):
        base["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
    # What dockerd's adaptContainerSettings/create fill in for the zero values a client sends.
    if not base.get("ShmSize"):
        base["ShmSize"] = 67108864
    if not base.get("CgroupnsMode"):
        base["CgroupnsMode"] = "private" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "host"
    if (base.get("PidsLimit") or 0) <= 0:
        base["PidsLimit"] = None
    if not base.get("Privileged"):
        if base.get("MaskedPaths") is None:
            base["MaskedPaths"] = list(DEFAULT_MASKED_PATHS)
        if base.get("ReadonlyPaths") is None:
            base["ReadonlyPaths"] = list(DEFAULT_READONLY_PATHS)
    return base


# ---------------------------------------------------------------------------
# volumes, binds, --mount, --tmpfs
# ---------------------------------------------------------------------------

VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
# moby volume/mounts parser_linux.go: the modes a -v spec may carry.
BIND_MODES = {"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated",
              "private", "rprivate", "shared", "rshared", "slave", "rslave"}


def _split_bind(spec):
    """"src:dst[:mode]" / "dst[:mode]" -> (src, dst, mode)."""
    parts = spec.split(":")
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        if parts[1].startswith("/"):
            return parts[0], parts[1], ""
        return "", parts[0], parts[1]
    return parts[0], parts[1], ":".join(parts[2:])


def _check_target(target, kind, bad):
    """moby validateMountConfig: an absolute destination that is not "/"."""
    if not target.startswith("/"):
        raise bad('invalid mount config for type "%s": invalid mount path: \'%s\' mount path '
                  "must be absolute" % (kind, target))
    if os.path.normpath(target) == "/":
        raise bad('invalid mount config for type "%s": invalid specification: destination '
                  "can't be '/'" % kind)


def _bind_entry(spec):
    """One HostConfig.Binds item (`-v`) as a plan entry."""
    def bad(detail):
        return errors.InvalidArgument("invalid volume specification: '%s': %s" % (spec, detail))

    src, dst, mode = _split_bind(spec)
    if not dst:
        raise errors.InvalidArgument("invalid volume specification: '%s'" % spec)
    modes = [m for m in mode.split(",") if m]
    for m in modes:
        if m not in BIND_MODES:
            raise bad("invalid mode: %s" % mode)
    rw = "ro" not in modes
    kind = "bind" if src.startswith("/") else "volume"
    if kind == "volume" and not mode:
        mode = "z"   # moby setBindModeIfNull: a local volume from -v/--mount without a mode
    _check_target(dst, kind, bad)
    if not src:
        return {"kind": "volume", "name": "", "source": "", "destination": dst, "rw": rw,
                "mode": mode, "anonymous": True, "nocopy": "nocopy" in modes}
    if kind == "bind":
        return {"kind": "bind", "name": "", "source": os.path.normpath(src), "destination": dst,
                "rw": rw, "mode": mode, "anonymous": False, "create_source": True}
    if not VOLUME_NAME_RE.match(src):
        raise errors.InvalidArgument(
            'create %s: "%s" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
            "use absolute path" % (src, src))
    return {"kind": "volume", "name": src, "source": "", "destination": dst, "rw": rw,
            "mode": mode, "anonymous": False, "nocopy": "nocopy" in modes}


def _mount_entry(m):
    """One HostConfig.Mounts item (`--mount`) as a plan entry."""
    kind = (m.get("Type") or "volume").lower()
    target = m.get("Target") or m.get("Destination") or ""

    def bad(detail):
        return errors.InvalidArgument(detail)

    if kind not in ("bind", "volume", "tmpfs"):
        raise errors.InvalidArgument("mount type unknown: %s" % kind)
    if not target:
        raise bad('invalid mount config for type "%s": field Target must not be empty' % kind)
    _check_target(target, kind, bad)
    rw = not m.get("ReadOnly")
    if kind == "bind":
        src = m.get("Source") or ""
        if not src:
            raise bad('invalid mount config for type "bind": field Source must not be empty')
        if not src.startswith("/"):
            raise bad('invalid mount config for type "bind": invalid mount path: \'%s\' mount '
                      "path must be absolute" % src)
        if not os.path.exists(src):
            raise bad('invalid mount config for type "bind": bind source path does not exist: %s'
                      % src)
        return {"kind": "bind", "name": "", "source": os.path.normpath(src), "destination": target,
                "rw": rw, "mode": "", "anonymous": False, "create_source": False}
    if kind == "volume":
        src = m.get("Source") or ""
        if src and not VOLUME_NAME_RE.match(src):
            raise bad('invalid mount config for type "volume": invalid volume name: %s' % src)
        vo = m.get("VolumeOptions") or {}
        driver = vo.get("DriverConfig") or {}
        return {"kind": "volume", "name": src, "source": "", "destination": target,
                "rw": rw, "mode": "z", "anonymous": not src,
                "labels": vo.get("Labels") or {}, "driver": driver.get("Name") or "",
                "driver_opts": driver.get("Options") or {}, "nocopy": bool(vo.get("NoCopy"))}
    if m.get("Source"):
        raise bad('invalid mount config for type "tmpfs": field Source must not be specified')
    to = m.get("TmpfsOptions") or {}
    opts = []
    if to.get("SizeBytes"):
        opts.append("size=%d" % int(to["SizeBytes"]))
    if to.get("Mode"):
        opts.append("mode=%o" % int(to["Mode"]))
    return {"kind": "tmpfs", "name": "", "source": "tmpfs", "destination": target, "rw": rw,
            "mode": "", "anonymous": False, "options": opts}


def parse_volumes_from(spec):
    """"name[:ro|rw]" -> (name, mode) (moby parseVolumesFrom)."""
    name, _, mode = spec.partition(":")
    if not name:
        raise errors.InvalidArgument("invalid volumes-from specification: '%s'" % spec)
    if mode and mode not in ("ro", "rw"):
        raise errors.InvalidArgument("invalid mode: %s" % mode)
    return name, mode


def inherited_entries(mounts, mode):
    """Plan entries for `--volumes-from`: the other container's volumes (taken again by the new
    container) and binds; `mode` ro/rw overrides their RW."""
    out = []
    for m in mounts or []:
        # moby's volumes-from copies a mount point without its Mode, and ":rw" cannot lift a
        # read-only one (RW = m.RW && ReadWrite(mode)).
        rw = bool(m.get("RW", True)) and mode != "ro"
        if m.get("Type") == "volume" and m.get("Name"):
            out.append({"kind": "volume", "name": m["Name"], "source": "",
                        "destination": m["Destination"], "rw": rw, "mode": "",
                        "anonymous": bool(m.get("Anonymous")), "driver": m.get("Driver") or "",
                        "inherited": True, "nocopy": True, "weak": True})
        elif m.get("Type") == "bind":
            out.append({"kind": "bind", "name": "", "source": m["Source"],
                        "destination": m["Destination"], "rw": rw, "mode": "",
                        "anonymous": False, "create_source": False, "weak": True})
    return out


def plan_mounts(config, hc, inherited=()):
    """Every volume, bind and tmpfs of the container, as a list of dicts:

    {"kind": "volume"|"bind"|"tmpfs", "name", "source", "destination", "rw", "mode",
     "anonymous", "nocopy" (volume), "options" (tmpfs), "create_source" (bind)}.
    Binds, --mount and --tmpfs may not repeat a destination (Docker's "Duplicate mount point");
    `inherited` (--volumes-from entries) and the image's VOLUMEs only fill what they left.
    """
    plan = {}

    def add(entry):
        for key in ("source", "destination"):
            if "\0" in (entry.get(key) or ""):   # no path can hold one; the services would choke
                raise errors.InvalidArgument("invalid mount config: %s path %r contains a NUL byte"
                                             % (key, entry[key]))
        dest = os.path.normpath(entry["destination"])
        if dest in plan and not entry.get("weak"):
            raise errors.InvalidArgument("Duplicate mount point: %s" % dest)
        if dest in plan:
            return
        entry["destination"] = dest
        plan[dest] = entry

    for spec in hc.get("Binds") or []:
        add(_bind_entry(spec))
    for m in hc.get("Mounts") or []:
        add(_mount_entry(m))
    for dest, data in (hc.get("Tmpfs") or {}).items():
        _check_target(dest, "tmpfs", errors.InvalidArgument)
        add({"kind": "tmpfs", "name": "", "source": "tmpfs", "destination": dest, "rw": True,
             "mode": "", "anonymous": False, "options": [o for o in (data or "").split(",") if o]})
    for entry in inherited:
        add(entry)
    for dest in sorted(config.get("Volumes") or {}):
        if not dest.startswith("/") or os.path.normpath(dest) == "/":
            continue  # an image's odd VOLUME is ignored rather than failing every run
        add({"kind": "volume", "name": "", "source": "", "destination": dest, "rw": True,
             "mode": "", "anonymous": True, "weak": True})
    return list(plan.values())


def oci_mount(entry):
    """The OCI runtime mount for a planned (and resolved) entry."""
    if entry["kind"] == "tmpfs":
        opts = ["noexec", "nosuid", "nodev", "rprivate"] + list(entry.get("options") or [])
        if not entry["rw"]:
            opts.append("ro")
        return {"destination": entry["destination"], "type": "tmpfs", "source": "tmpfs",
                "options": opts}
    opts = ["rbind", "rprivate", "rw" if entry["rw"] else "ro"]
    return {"destination": entry["destination"], "type": "bind", "source": entry["source"],
            "options": opts}


def docker_mount(entry):
    """Docker's inspect "Mounts" item for a resolved entry."""
    if entry["kind"] == "volume":
        return {"Type": "volume", "Name": entry["name"], "Source": entry["source"],
                "Destination": entry["destination"], "Driver": entry.get("driver") or "local",
                "Mode": entry.get("mode") or "", "RW": entry["rw"],
                "Propagation": "", "Anonymous": entry.get("anonymous", False)}
    if entry["kind"] == "bind":
        return {"Type": "bind", "Source": entry["source"], "Destination": entry["destination"],
                "Mode": entry.get("mode") or "", "RW": entry["rw"], "Propagation": "rprivate"}
    return {"Type": "tmpfs", "Source": "", "Destination": entry["destination"], "Mode": "",
            "RW": entry["rw"], "Propagation": ""}


# ---------------------------------------------------------------------------
# signals
# ---------------------------------------------------------------------------

def parse_signal(value, default=None):
    """"SIGKILL", "KILL", "9" -> 9; "" -> default. InvalidArgument when unknown."""
    if value is None or str(value).strip() == "":
        return default
    text = str(value).strip().upper()
    if text.isdigit():
        num = int(text)
        if num <= 0 or num > 64:
            raise errors.InvalidArgument("Invalid signal: %s" % value)
        return num
    if not text.startswith("SIG"):
        text = "SIG" + text
    if text.startswith("SIGRTMIN+") or text.startswith("SIGRTMAX-"):
        base = _signal.SIGRTMIN if "MIN" in text else _signal.SIGRTMAX
        off = int(text[9:])
        return int(base) + off if "MIN" in text else int(base) - off
    try:
        return int(getattr(_signal.Signals, text))
    except AttributeError:
        raise errors.InvalidArgument("Invalid signal: %s" % value) from None
