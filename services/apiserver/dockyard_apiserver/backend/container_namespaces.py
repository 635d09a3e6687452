"""HostConfig.IpcMode / PidMode / NetworkMode at container create, as dockerd stores them.

dockerd fills an empty IpcMode with its default ("private", Docker 20.10) and looks up the donor
of `container:<name|id>` modes at create (generateSecurityOpt: a missing one is a 400), keeping
"container:<full id>" in HostConfig. Whether the donor runs (and shares its IPC) is checked at
each start, by container-service (dockyard_containers/namespaces.py).
"""

from dockyard_common import errors

DEFAULT_IPC_MODE = "private"
CONTAINER_PREFIX = "container:"


def donor_ref(mode):
    """"container:x" -> "x" ("" for "container:"); None for any other mode."""
    mode = mode or ""
    return mode[len(CONTAINER_PREFIX):] if mode.startswith(CONTAINER_PREFIX) else None


def normalize(hc, lookup):
    """Fill the IPC default and resolve the IPC and PID donors in `hc` (in place).

    lookup(ref) returns the donor's record or raises errors.NotFound.
    """
    if not hc.get("IpcMode"):
        hc["IpcMode"] = DEFAULT_IPC_MODE
    for key in ("IpcMode", "PidMode"):
        ref = donor_ref(hc.get(key))
        if not ref:
            continue  # "container:" alone fails at start, as dockerd
        try:
            donor = lookup(ref)
        except errors.NotFound:
            raise errors.InvalidArgument("No such container: %s" % ref) from None
        hc[key] = CONTAINER_PREFIX + donor.id
    return hc


def record_network_mode(hc, net):
    """`--network container:<name>` is kept as container:<full id> (net: the planned document)."""
    if donor_ref(hc.get("NetworkMode")) is not None and net.get("container"):
        hc["NetworkMode"] = CONTAINER_PREFIX + net["container"]
    return hc
