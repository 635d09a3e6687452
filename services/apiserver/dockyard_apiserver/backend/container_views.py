"""Docker's JSON views of a container record: inspect, the `ps` summary, the Status text."""

import json
import time

from dockyard_common import ids

from . import container_health, container_ports
from .container_config import config_defaults, host_config_defaults


def loads(data, default=None):
    if not data:
        return default
    try:
        return json.loads(data)
    except ValueError:
        return default


def human_duration(seconds):
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return "%d seconds" % s
    minutes = int(seconds // 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return "%d minutes" % minutes
    hours = int(round(seconds / 3600.0))
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return "%d hours" % hours
    if hours < 24 * 7 * 2:
        return "%d days" % (hours // 24)
    if hours < 24 * 30 * 2:
        return "%d weeks" % (hours // 24 // 7)
    if hours < 24 * 365 * 2:
        return "%d months" % (hours // 24 // 30)
    return "%d years" % (int(seconds // 3600) // 24 // 365)


def _since(ts, now_ns):
    return max(0.0, (now_ns - ids.rfc3339_to_ns(ts)) / 1e9)


def status_text(state, now_ns=None, health=None):
    """container/state.go String(); `health` is the State.Health view."""
    now_ns = now_ns or time.time_ns()
    if state.running:
        if state.paused:
            return "Up %s (Paused)" % human_duration(_since(state.started_at, now_ns))
        if state.restarting:
            return "Restarting (%d) %s ago" % (state.exit_code, human_duration(_since(state.finished_at, now_ns)))
        return "Up " + human_duration(_since(state.started_at, now_ns)) + container_health.status_suffix(health)
    if state.restarting:
        return "Restarting (%d) %s ago" % (state.exit_code, human_duration(_since(state.finished_at, now_ns)))
    if state.status == "removing":
        return "Removal In Progress"
    if state.dead or state.status == "dead":
        return "Dead"
    if not ids.rfc3339_to_ns(state.started_at):
        return "Created"
    if not ids.rfc3339_to_ns(state.finished_at):
        return ""
    return "Exited (%d) %s ago" % (state.exit_code, human_duration(_since(state.finished_at, now_ns)))


def state_status(state):
    if state.status:
        return state.status
    if state.running:
        return "paused" if state.paused else "running"
    return "created"


def state_json(state, health=None):
    out = {
        "Status": state_status(state),
        "Running": bool(state.running),
        "Paused": bool(state.paused),
        "Restarting": bool(state.restarting),
        "OOMKilled": bool(state.oom_killed),
        "Dead": bool(state.dead),
        "Pid": int(state.pid) if state.running else 0,
        "ExitCode": int(state.exit_code),
        "Error": state.error or "",
        "StartedAt": state.started_at or ids.ZERO_TIME,
        "FinishedAt": state.finished_at or ids.ZERO_TIME,
    }
    if health is not None:
        out["Health"] = health
    return out


PREDEFINED_NETWORKS = ("bridge", "host", "none")


def endpoint_views(doc, cid):
    """NetworkSettings.Networks of a record's network document (Docker's EndpointSettings)."""
    out = {}
    networks = doc.get("networks") or {}
    for name in doc.get("order") or list(networks):
        ep = networks.get(name)
        if ep is None:
            continue
        aliases = list(ep.get("aliases") or [])
        if name not in PREDEFINED_NETWORKS and cid[:12] not in aliases:
            aliases.append(cid[:12])  # Docker (API < 1.45) lists the short id among the aliases
        out[name] = {
            "IPAMConfig": ep.get("IPAMConfig"),
            "Links": (ep.get("links") or None) if name not in PREDEFINED_NETWORKS else None,
            "Aliases": aliases or None,
            "MacAddress": ep.get("mac_address") or ep.get("MacAddress", ""),
            "NetworkID": ep.get("network_id", ""),
            "EndpointID": ep.get("endpoint_id", ""),
            "Gateway": ep.get("gateway", ""),
            "IPAddress": ep.get("ip_address", ""),
            "IPPrefixLen": int(ep.get("prefix_len") or 0),
            "IPv6Gateway": ep.get("ipv6_gateway", ""),
            "GlobalIPv6Address": ep.get("ipv6_address", ""),
            "GlobalIPv6PrefixLen": int(ep.get("ipv6_prefix_len") or 0),
            "DriverOpts": None,
            "DNSNames": ep.get("dns_names") or None,
        }
    return out


def ports_of(config, net):
    """NetworkSettings.Ports: empty unless the endpoints are live (a stopped container holds no
    port, as Docker); shared-namespace modes publish nothing."""
    mode = net.get("mode") or "default"
    if not net.get("attached") or mode in ("host", "none") or mode.startswith("container:"):
        return {}
    return container_ports.ports_view(config, net.get("ports") or {})


def network_settings(rec, config, hc, running):
    net = loads(rec.network_json, {}) or {}
    networks = net.get("networks") or {}
    bridge = networks.get("bridge") or {}
    out = {
        "Bridge": "",
        "SandboxID": net.get("sandbox_id", "") if running else "",
        "SandboxKey": net.get("netns_path", "") if running else "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports_of(config, net),
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": bridge.get("endpoint_id", ""),
        "Gateway": bridge.get("gateway", ""),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": bridge.get("ip_address", ""),
        "IPPrefixLen": int(bridge.get("prefix_len") or 0),
        "IPv6Gateway": "",
        "MacAddress": bridge.get("mac_address", ""),
        "Networks": endpoint_views(net, rec.id),
    }
    return out


def listed_mounts(rec, hc):
    """The record's mounts as Docker lists them: `--tmpfs` (HostConfig.Tmpfs) is no mount point
    there, only `--mount type=tmpfs` is."""
    tmpfs_flags = set(hc.get("Tmpfs") or {})
    # "Anonymous" is our own bookkeeping (rm -v), not a field of Docker's MountPoint.
    return [{k: v for k, v in m.items() if k != "Anonymous"} for m in loads(rec.mounts_json, []) or []
            if not (m.get("Type") == "tmpfs" and m.get("Destination") in tmpfs_flags)]


def inspect(rec, exec_ids=None, size=None, merged_dir=""):
    """merged_dir: where shim-runner mounts the container's root filesystem (GraphDriver)."""
    config = config_defaults(loads(rec.config_json, {}))
    hc = host_config_defaults(loads(rec.host_config_json, {}))
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    st = rec.state
    out = {
        "Id": rec.id,
        "Created": rec.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": state_json(st, container_health.view(rec, config)),
        "Image": rec.image_id,
        "ResolvConfPath": rec.resolv_conf_path,
        "HostnamePath": rec.hostname_path,
        "HostsPath": rec.hosts_path,
        "LogPath": "" if (hc.get("LogConfig") or {}).get("Type") == "none" else rec.log_path,
        "Name": "/" + rec.name,
        "RestartCount": int(st.restart_count),
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": exec_ids or None,
        "HostConfig": hc,
        "GraphDriver": graph_driver(rec, merged_dir),
        "Mounts": listed_mounts(rec, hc),
        "Config": config,
        "NetworkSettings": network_settings(rec, config, hc, bool(st.running)),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def graph_driver(rec, merged_dir=""):
    """overlay2's view: the snapshot's dirs, and the real mount point of the merged root (it
    holds the container's files while the container runs, as Docker's MergedDir)."""
    data = {}
    for m in rec.rootfs:
        for opt in m.options:
            key, _, value = opt.partition("=")
            if key == "lowerdir":
                data["LowerDir"] = value
            elif key == "upperdir":
                data["UpperDir"] = value
            elif key == "workdir":
                data["WorkDir"] = value
    if "UpperDir" in data and merged_dir:
        data["MergedDir"] = merged_dir
    return {"Data": data or None, "Name": "overlay2"}


def _command(config):
    """moby daemon/list.go: the path, then the args, those with a space quoted in '...'."""
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not args:
        return ""
    return " ".join([args[0]] + ["'%s'" % a if " " in a else a for a in args[1:]])


def summary(rec, now_ns=None, size=None):
    config = loads(rec.config_json, {}) or {}
    hc = loads(rec.host_config_json, {}) or {}
    net = loads(rec.network_json, {}) or {}
    st = rec.state
    out = {
        "Id": rec.id,
        "Names": ["/" + rec.name],
        "Image": rec.image or config.get("Image", ""),
        "ImageID": rec.image_id,
        "Command": _command(config),
        "Created": ids.rfc3339_to_ns(rec.created) // 1_000_000_000,
        "Ports": container_ports.summary_ports(ports_of(config, net)),
        "Labels": dict(rec.labels) or (config.get("Labels") or {}),
        "State": state_status(st),
        "Status": status_text(st, now_ns, container_health.view(rec, config)),
        "HostConfig": {"NetworkMode": hc.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": endpoint_views(net, rec.id)},
        "Mounts": listed_mounts(rec, hc),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out
