"""The mounts the archive API needs to see a container as Docker does (moby setupMounts and
checkIfPathIsInAVolume): its mount points (volumes, binds, tmpfs mounts: the read-only checks,
and the binds the image-service puts on a stopped container's snapshot), then its network files
unless a mount point already covers them."""

import json

from dockyard_api.types.v1 import types_pb2

from . import container_views as views

NETWORK_FILES = (("hosts_path", "/etc/hosts"), ("resolv_conf_path", "/etc/resolv.conf"),
                 ("hostname_path", "/etc/hostname"))


def _host_config(rec):
    return json.loads(rec.host_config_json or b"{}") or {}


def readonly_rootfs(rec):
    return bool(_host_config(rec).get("ReadonlyRootfs"))


def container_user(rec):
    return (json.loads(rec.config_json or b"{}") or {}).get("User") or ""


def container_mounts(rec):
    """[types.Mount]: target, type, host source and "ro"/"rw" of each mount."""
    out = []
    # --tmpfs mounts are no mount points in Docker (only --mount type=tmpfs ones are): with
    # --read-only, copying into one is refused as the rootfs.
    for m in views.listed_mounts(rec, _host_config(rec)):
        dest = m.get("Destination") or ""
        if not dest:
            continue
        out.append(types_pb2.Mount(type=m.get("Type") or "volume", source=m.get("Source") or "",
                                   target=dest, options=["rw" if m.get("RW", True) else "ro"]))
    taken = {m.target for m in out}
    mode = "ro" if readonly_rootfs(rec) else "rw"
    for attr, dest in NETWORK_FILES:
        source = getattr(rec, attr, "")
        if source and dest not in taken:
            out.append(types_pb2.Mount(type="bind", source=source, target=dest, options=[mode]))
    return out
