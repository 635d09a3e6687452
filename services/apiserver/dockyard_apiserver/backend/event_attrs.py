"""The shapes of dockerd's network and volume events, in one place.

dockerd adds the network's name and type to every network event (LogNetworkEventWithAttributes);
volume events carry the volume's driver, and mount/unmount also the container and, for mount,
where and how (daemon/volumes_unix.go setupMounts, container.UnmountVolumes).
"""

# network-service's drivers: the predefined host and none networks, bridge for the rest.
_PREDEFINED_TYPES = {"host": "host", "none": "null"}


def network_type(name):
    return _PREDEFINED_TYPES.get(name, "bridge")


def network(name, driver=None, container=None):
    attrs = {"name": name, "type": driver or network_type(name)}
    if container:
        attrs["container"] = container
    return attrs


def volume(driver=None):
    return {"driver": driver or "local"}


def volume_mounts(mounts):
    """The named or anonymous volumes among a container's inspect "Mounts" (binds and tmpfs
    have no volume events)."""
    return [m for m in mounts or [] if m.get("Type") == "volume" and m.get("Name")]


def volume_mount(mount, container_id):
    return {"driver": mount.get("Driver") or "local", "container": container_id,
            "destination": mount.get("Destination") or "",
            "read/write": "true" if mount.get("RW", True) else "false",
            "propagation": mount.get("Propagation") or ""}


def volume_unmount(mount, container_id):
    return {"driver": mount.get("Driver") or "local", "container": container_id}


def emit_network(bus, action, net_id, name, driver=None, container=None):
    bus.emit("network", action, net_id, network(name, driver, container))


def emit_volume(bus, action, name, driver=None, attrs=None):
    bus.emit("volume", action, name, attrs if attrs is not None else volume(driver))


def emit_prune(bus, type_, reclaimed):
    """`docker <type> prune` ends with one event, its actor empty (dockerd's *Prune)."""
    bus.emit(type_, "prune", "", {"reclaimed": str(int(reclaimed))})


def emit_run_started(bus, container_id, networks, mounts):
    """Before a container's start event: joining its networks ([(id, name)]), then mounting its
    volumes (dockerd initializeNetworking, then createSpec's setupMounts). The default bridge
    comes first, as dockerd's allocateNetwork connects it first."""
    for net_id, name in sorted(networks, key=lambda n: n[1] != "bridge"):
        emit_network(bus, "connect", net_id, name, container=container_id)
    for m in volume_mounts(mounts):
        emit_volume(bus, "mount", m["Name"], attrs=volume_mount(m, container_id))


def emit_run_ended(bus, container_id, networks, mounts):
    """After a run (dockerd Cleanup): leaving the networks, then unmounting the volumes."""
    for net_id, name in networks:
        emit_network(bus, "disconnect", net_id, name, container=container_id)
    for m in volume_mounts(mounts):
        emit_volume(bus, "unmount", m["Name"], attrs=volume_unmount(m, container_id))


def container(rec, **extra):
    """A container event's attributes (dockerd LogContainerEventWithAttributes): the action's
    own, overridden by the container's labels, then its image and name."""
    attrs = {k: str(v) for k, v in extra.items()}
    attrs.update(dict(rec.labels))
    if rec.image:
        attrs["image"] = rec.image
    attrs["name"] = rec.name.lstrip("/")
    return attrs
