"""Joining another container's IPC and PID namespaces at each start (`--ipc/--pid container:x`).

The apiserver stores "container:<full id>" at create; the donor's pid is only known while it runs,
so the namespace paths (/proc/<pid>/ns/ipc, /proc/<pid>/ns/pid) go into the spec of each run,
with dockerd's checks and messages (daemon/oci_linux.go WithNamespaces, getIpcContainer,
getPidContainer). Every error here is a failed start (500, exit code 128).
"""

import json

from dockyard_common import errors, oci

CONTAINER_PREFIX = "container:"
# IpcMode values dockerd knows; "" is a container of an older daemon (then "shareable").
IPC_MODES = ("", "private", "shareable", "none", "host")
# Donor modes whose IPC namespace others may join (dockerd: the donor has a ShmPath).
SHAREABLE_IPC = ("", "shareable", "host")


def _donor_ref(mode):
    mode = mode or ""
    return mode[len(CONTAINER_PREFIX):] if mode.startswith(CONTAINER_PREFIX) else None


def _lookup(store, ref):
    if not ref:
        raise errors.InvalidArgument('invalid name or ID supplied: ""')
    return store.get(ref)


def _check_running(donor):
    if not donor.state.running or not donor.state.pid:
        raise errors.Conflict("container %s is not running" % donor.id)
    if donor.state.restarting:
        raise errors.Conflict("Container %s is restarting, wait until the container is running"
                              % donor.id)


def ipc_donor(store, mode):
    """The running, shareable container `--ipc container:<ref>` joins."""
    ref = _donor_ref(mode)
    prefix = "can't join IPC of container " + ref
    try:
        donor = _lookup(store, ref)
        _check_running(donor)
    except errors.DockyardError as exc:
        raise errors.Internal("%s: %s" % (prefix, exc)) from None
    donor_mode = _host_config(donor).get("IpcMode") or ""
    if donor_mode not in SHAREABLE_IPC:
        raise errors.Internal(prefix + ": non-shareable IPC (hint: use IpcMode:shareable for "
                              "the donor container)")
    return donor


def pid_donor(store, mode):
    """The running container `--pid container:<ref>` joins."""
    ref = _donor_ref(mode)
    try:
        donor = _lookup(store, ref)
    except errors.DockyardError as exc:
        raise errors.Internal("cannot join PID of a non running container: %s: %s"
                              % (ref, exc)) from None
    try:
        _check_running(donor)
    except errors.DockyardError as exc:
        raise errors.Internal(str(exc)) from None
    return donor


def _host_config(rec):
    try:
        return json.loads(rec.host_config_json or b"{}") or {}
    except ValueError:
        return {}


def _set_namespace(spec, ns_type, path):
    namespaces = spec.setdefault("linux", {}).setdefault("namespaces", [])
    for ns in namespaces:
        if ns.get("type") == ns_type:
            ns["path"] = path
            return
    namespaces.append({"type": ns_type, "path": path})


def _share_shm(spec, donor):
    """The donor's /dev/shm replaces the joiner's own tmpfs (a /dev/shm of the user's stays):
    the host's for an `--ipc host` donor, else the tmpfs shim-runner keeps in the donor's
    bundle (named by an annotation: only shim-runner knows where its bundles are)."""
    mounts = spec.get("mounts") or []
    index = next((i for i, m in enumerate(mounts) if m.get("destination") == "/dev/shm"
                  and m.get("type") == "tmpfs" and m.get("source") == "shm"), None)
    if index is None:
        return
    if (_host_config(donor).get("IpcMode") or "") == "host":
        mounts[index] = oci.shareable_shm_mount("/dev/shm")
        return
    try:
        donor_annotations = json.loads(donor.spec_json or b"{}").get("annotations") or {}
    except ValueError:
        donor_annotations = {}
    if oci.SHM_SIZE_ANNOTATION not in donor_annotations:
        return  # a donor of an older dockyard: no tmpfs of its own to share
    mounts[index] = oci.shareable_shm_mount()
    spec.setdefault("annotations", {})[oci.SHM_FROM_ANNOTATION] = donor.id


def join_spec(rec, store):
    """The spec_json to create `rec`'s task with: its own, or (for container: modes) a copy
    whose IPC/PID namespaces are the donors'. Raises errors.Internal as dockerd's start."""
    hc = _host_config(rec)
    ipc_mode = hc.get("IpcMode") or ""
    pid_mode = hc.get("PidMode") or ""
    ipc_join = _donor_ref(ipc_mode) is not None
    if not ipc_join and ipc_mode not in IPC_MODES:
        raise errors.Internal("Invalid IPC mode: %s" % ipc_mode)
    pid_join = _donor_ref(pid_mode) is not None
    if not ipc_join and not pid_join:
        return rec.spec_json
    spec = json.loads(rec.spec_json or b"{}")
    if ipc_join:  # dockerd checks the IPC donor first
        donor = ipc_donor(store, ipc_mode)
        _set_namespace(spec, "ipc", "/proc/%d/ns/ipc" % donor.state.pid)
        _share_shm(spec, donor)
    if pid_join:
        donor = pid_donor(store, pid_mode)
        _set_namespace(spec, "pid", "/proc/%d/ns/pid" % donor.state.pid)
    return json.dumps(spec).encode()
