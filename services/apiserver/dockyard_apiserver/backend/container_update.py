"""`docker update`: new limits and restart policy for a container (moby daemon/update.go).

The record's HostConfig and OCI spec change (a later start uses them); a running or paused
container also gets the new cgroup limits at once through Tasks.Update (`runc update`).
The checks and messages are dockerd's (verifyPlatformContainerResources with update=true,
container.UpdateContainer).
"""

import json
import logging
import os

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_common import errors

from . import container_sysinfo

log = logging.getLogger(__name__)

MIN_MEMORY = 6 * 1024 * 1024
# The resource fields `docker update` may change (UpdateConfig.Resources that we apply).
INT_FIELDS = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod",
              "CpuQuota", "BlkioWeight")
STR_FIELDS = ("CpusetCpus", "CpusetMems")


def _int(body, key):
    value = body.get(key)
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.InvalidArgument("json: cannot unmarshal %s into Go struct field "
                                     "UpdateConfig.%s of type int64" % (type(value).__name__, key))
    return int(value)


def normalize(body, api_at_least_1_40=True):
    """The update body as typed values (zero = leave unchanged), PidsLimit None = unchanged."""
    if not isinstance(body, dict):
        raise errors.InvalidArgument("json: cannot unmarshal into Go value of type container.UpdateConfig")
    out = {k: _int(body, k) for k in INT_FIELDS}
    for k in STR_FIELDS:
        out[k] = str(body.get(k) or "")
    pids = body.get("PidsLimit") if api_at_least_1_40 else None
    if pids is not None:
        pids = _int(body, "PidsLimit")
        # 0 and any negative value mean "unlimited" when updating (moby postContainerUpdate).
        out["PidsLimit"] = pids if pids > 0 else 0
    else:
        out["PidsLimit"] = None
    policy = body.get("RestartPolicy") or {}
    out["RestartPolicy"] = {"Name": str(policy.get("Name") or ""),
                            "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
    return out


# -- verifyPlatformContainerResources(update=true) ---------------------------------------------

def parse_cpu_list(value):
    """moby parsers.ParseUintList: "0-2,4" -> {0, 1, 2, 4}; raises ValueError."""
    out = set()
    if value == "":
        return out
    for part in value.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError("invalid format: %s" % value)
        if sep:
            if int(hi) < int(lo):
                raise ValueError("invalid range format: %s" % part)
            out.update(range(int(lo), int(hi) + 1))
        else:
            out.add(int(lo))
    return out


def _format_list(items):
    items = sorted(items)
    parts, start = [], None
    for i, n in enumerate(items):
        if start is None:
            start = n
        if i + 1 == len(items) or items[i + 1] != n + 1:
            parts.append(str(start) if start == n else "%d-%d" % (start, n))
            start = None
    return ",".join(parts)


def available_cpus():
    try:
        return set(os.sched_getaffinity(0))
    except OSError:
        return set(range(os.cpu_count() or 1))


def available_mems():
    for path in ("/sys/fs/cgroup/cpuset/cpuset.mems", "/sys/fs/cgroup/cpuset.mems.effective"):
        try:
            with open(path) as f:
                return parse_cpu_list(f.read().strip())
        except (OSError, ValueError):
            continue
    return {0}


def verify(upd, cpus=None, mems=None, info=None):
    """Docker's checks of the requested values alone; returns the warnings.
    info: the host's SysInfo (a limit it cannot apply is discarded with a warning)."""
    warnings = []
    memory, swap, reservation = upd["Memory"], upd["MemorySwap"], upd["MemoryReservation"]
    if memory != 0 and memory < MIN_MEMORY:
        raise errors.InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise errors.InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage")
    if reservation > 0 and reservation < MIN_MEMORY:
        raise errors.InvalidArgument("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise errors.InvalidArgument(
            "Minimum memory limit can not be less than memory reservation limit, see usage")
    nano, period, quota = upd["NanoCpus"], upd["CpuPeriod"], upd["CpuQuota"]
    if nano > 0 and period > 0:
        raise errors.InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise errors.InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    cpus = available_cpus() if cpus is None else cpus
    ncpu = len(cpus) or 1
    if nano < 0 or nano > ncpu * 10 ** 9:
        raise errors.InvalidArgument("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs "
                                     "available" % (ncpu, ncpu))
    if period != 0 and (period < 1000 or period > 1000000):
        raise errors.InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if 0 < quota < 1000:
        raise errors.InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    for key, what, avail, label in (("CpusetCpus", "cpuset cpus", lambda: cpus, "CPUs"),
                                    ("CpusetMems", "cpuset mems",
                                     lambda: available_mems() if mems is None else mems, "memory nodes")):
        value = upd[key]
        if not value:
            continue
        try:
            wanted = parse_cpu_list(value)
        except ValueError as exc:
            raise errors.InvalidArgument("Invalid value %s for %s: %s" % (value, what, exc)) from None
        avail = set(avail())
        if not wanted <= avail:
            raise errors.InvalidArgument("Requested %s are not available - requested %s, available: %s"
                                         % (label, value, _format_list(avail)))
    if upd["BlkioWeight"] > 0 and info is not None and not info.blkio_weight:
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not "
                        "mounted. Weight discarded.")
        upd["BlkioWeight"] = 0
    weight = upd["BlkioWeight"]
    if weight > 0 and (weight < 10 or weight > 1000):
        raise errors.InvalidArgument("Range of blkio weight is from 10 to 1000")
    validate_restart_policy(upd["RestartPolicy"])
    return warnings


def validate_restart_policy(policy):
    """moby container.ValidateRestartPolicy ("" = leave the policy as it is)."""
    name, count = policy["Name"], policy["MaximumRetryCount"]
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise errors.InvalidArgument(
            "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'" % name)
    if count < 0:
        raise errors.InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise errors.InvalidArgument(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'")


# -- container.UpdateContainer ------------------------------------------------------------------

def _conflict(cid, message):
    return errors.Conflict("Cannot update container %s: %s" % (cid, message))


def merge(cid, hc, upd):
    """The container's new HostConfig (a copy), or Conflict as dockerd's UpdateContainer."""
    cur = dict(hc)
    # dockerd stores MemorySwap = 2 * Memory when a limit was set without swap: do the same here.
    if int(cur.get("Memory") or 0) > 0 and not int(cur.get("MemorySwap") or 0):
        cur["MemorySwap"] = 2 * int(cur["Memory"])
    if upd["NanoCpus"] > 0 and int(cur.get("CpuPeriod") or 0) > 0:
        raise _conflict(cid, "Conflicting options: Nano CPUs cannot be updated as CPU Period has "
                             "already been set")
    if upd["NanoCpus"] > 0 and int(cur.get("CpuQuota") or 0) > 0:
        raise _conflict(cid, "Conflicting options: Nano CPUs cannot be updated as CPU Quota has "
                             "already been set")
    if upd["CpuPeriod"] > 0 and int(cur.get("NanoCpus") or 0) > 0:
        raise _conflict(cid, "Conflicting options: CPU Period cannot be updated as NanoCPUs has "
                             "already been set")
    if upd["CpuQuota"] > 0 and int(cur.get("NanoCpus") or 0) > 0:
        raise _conflict(cid, "Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                             "already been set")
    for key in ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus",
                "CpusetMems"):
        if upd[key]:
            cur[key] = upd[key]
    if upd["Memory"]:
        if upd["Memory"] > int(cur.get("MemorySwap") or 0) and not upd["MemorySwap"]:
            raise _conflict(cid, "Memory limit should be smaller than already set memoryswap limit, "
                                 "update the memoryswap at the same time")
        cur["Memory"] = upd["Memory"]
    if upd["MemorySwap"]:
        cur["MemorySwap"] = upd["MemorySwap"]
    if upd["MemoryReservation"]:
        cur["MemoryReservation"] = upd["MemoryReservation"]
    if upd["PidsLimit"] is not None:
        cur["PidsLimit"] = upd["PidsLimit"]
    policy = upd["RestartPolicy"]
    if policy["Name"]:
        if policy["Name"] != "no" and cur.get("AutoRemove"):
            raise _conflict(cid, "Restart policy cannot be updated because AutoRemove is enabled "
                                 "for the container")
        cur["RestartPolicy"] = policy
    return cur


def linux_resources(hc, upd):
    """The OCI LinuxResources to hand `runc update` (no device rules: those never change)."""
    from dockyard_common import oci
    res = oci.linux_resources(hc, bool(hc.get("Privileged")))
    res.pop("devices", None)
    if upd["PidsLimit"] is not None:
        # An explicit "unlimited": runc leaves pids.max alone when the limit is 0.
        res["pids"] = {"limit": upd["PidsLimit"] if upd["PidsLimit"] > 0 else -1}
    return res


def update_spec(spec_json, resources):
    """The record's OCI spec with the new limits (kept for the next start)."""
    spec = json.loads(spec_json or b"{}") or {}
    linux = spec.setdefault("linux", {})
    old = linux.get("resources") or {}
    new = dict(resources)
    if "devices" in old:
        new["devices"] = old["devices"]
    linux["resources"] = new
    return json.dumps(spec).encode()


class ContainerUpdater:
    def __init__(self, daemon):
        from .containers import for_daemon
        self.daemon = daemon
        self.c = daemon.clients
        self.backend = for_daemon(daemon)

    def update(self, ref, body, api_at_least_1_40=True):
        upd = normalize(body, api_at_least_1_40)
        warnings = verify(upd, info=container_sysinfo.probe())
        if int((body or {}).get("KernelMemory") or 0) > 0:
            # runc 1.1 ignores kernel memory limits; dockerd 20.10 answers with this warning
            warnings.insert(0, "Specifying a kernel memory limit is deprecated and will be "
                               "removed in a future release.")
        rec = self.backend.get(ref)
        cid = rec.id
        # The container's lock: a start cannot slip between reading the record and applying.
        with self.backend.lock(cid):
            rec = self.backend.get(cid)
            if rec.state.dead:
                raise errors.Conflict('Cannot update container %s: container is marked for removal '
                                      'and cannot be "update"' % cid)
            hc = merge(cid, self.backend.host_config_of(rec), upd)
            resources = linux_resources(hc, upd)
            if rec.state.running and not rec.state.restarting:
                try:
                    self.c.tasks.Update(tasks_pb2.UpdateTaskRequest(
                        id=cid, resources_json=json.dumps(resources).encode()))
                except errors.Conflict:
                    pass   # it stopped meanwhile: the record alone is enough
                except errors.DockyardError as exc:
                    raise errors.Internal("Cannot update container %s: %s" % (cid, exc)) from None
            rec = self.c.containers.Update(containers_pb2.UpdateContainerRequest(
                id=cid, host_config_json=json.dumps(hc).encode(),
                spec_json=update_spec(rec.spec_json, resources)))
        self.backend.emit(rec, "update")
        return {"Warnings": warnings}
