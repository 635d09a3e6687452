"""Published ports: HostConfig.PortBindings / PublishAllPorts to the network-service's bindings,
and the bindings back to Docker's NetworkSettings.Ports and `ps` Ports views. Pure functions."""

from dockyard_common import errors

PROTOCOLS = ("tcp", "udp", "sctp")


def split_port_key(key):
    """"80/tcp" -> ("80", "tcp"); "80" -> ("80", "tcp")."""
    port, _, proto = str(key).partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise errors.InvalidArgument("invalid proto: %s" % proto)
    return port, proto


def port_range(value, shown=None):
    """"80" -> (80, 80); "8000-8010" -> (8000, 8010); InvalidArgument with Docker's wording."""
    shown = value if shown is None else shown
    text = str(value).strip()
    lo, sep, hi = text.partition("-")
    if not sep:
        hi = lo
    try:
        a, b = int(lo), int(hi)
    except ValueError:
        raise errors.InvalidArgument('invalid port specification: "%s"' % shown) from None
    if not (0 <= a <= 65535 and 0 <= b <= 65535) or b < a:
        raise errors.InvalidArgument('invalid port specification: "%s"' % shown)
    return a, b


def validate(hc):
    """At create: every PortBindings key and HostPort parses (moby nat.ParsePortSpecs)."""
    for key, items in (hc.get("PortBindings") or {}).items():
        port, _ = split_port_key(key)
        port_range(port, key)
        for b in items or []:
            hp = str((b or {}).get("HostPort") or "")
            if hp:
                port_range(hp, hp)
    bindings({}, hc)  # ranges of different sizes fail here too


def bindings(config, hc):
    """The bindings to publish, as dicts of networks_pb2.PortBinding fields. Ranges are expanded
    (container range n..m with host range a..b of the same size pair up; one host range for one
    container port takes its first port); PublishAllPorts gives every other exposed port an
    ephemeral host port. A HostIp of "" is left to the network service (it publishes on
    0.0.0.0 and [::], as Docker 20.10)."""
    out = []
    published = set()
    for key, items in sorted((hc.get("PortBindings") or {}).items()):
        port, proto = split_port_key(key)
        lo, hi = port_range(port, key)
        for b in items or []:
            b = b or {}
            host_ip = str(b.get("HostIp") or "")
            hp = str(b.get("HostPort") or "")
            hlo, hhi = port_range(hp, hp) if hp else (0, 0)
            if hp and hhi - hlo != hi - lo and hi != lo:
                raise errors.InvalidArgument(
                    "Invalid ranges specified for container and host Ports: %s and %s" % (port, hp))
            for i, cport in enumerate(range(lo, hi + 1)):
                host_port = hlo + i if hp and hi != lo else hlo
                out.append({"host_ip": host_ip, "host_port": host_port, "container_port": cport,
                            "protocol": proto})
                published.add((cport, proto))
    if hc.get("PublishAllPorts"):
        for key in sorted(config.get("ExposedPorts") or {}):
            port, proto = split_port_key(key)
            lo, hi = port_range(port, key)
            for cport in range(lo, hi + 1):
                if (cport, proto) not in published:
                    out.append({"host_ip": "", "host_port": 0, "container_port": cport,
                                "protocol": proto})
    return out


def ports_from_endpoint(port_bindings):
    """Endpoint.port_bindings -> {"80/tcp": [{"HostIp", "HostPort"}]} (as published)."""
    ports = {}
    for b in port_bindings:
        key = "%d/%s" % (b.container_port, b.protocol or "tcp")
        ports.setdefault(key, []).append({"HostIp": b.host_ip or "0.0.0.0",
                                          "HostPort": str(b.host_port)})
    return ports


def ports_view(config, published):
    """NetworkSettings.Ports of a container whose endpoints are live: every exposed port (null
    when not published) and every published one."""
    ports = {}
    for key in config.get("ExposedPorts") or {}:
        port, proto = key.partition("/")[0], (key.partition("/")[2] or "tcp")
        ports["%s/%s" % (port, proto)] = None
    for key, items in (published or {}).items():
        ports[key] = list(items)
    return ports


def summary_ports(ports):
    """`GET /containers/json` Ports: [{IP, PrivatePort, PublicPort, Type}] from a Ports view."""
    out = []
    for key, items in sorted(ports.items()):
        num, _, proto = key.partition("/")
        try:
            private = int(num)
        except ValueError:
            continue
        if not items:
            out.append({"PrivatePort": private, "Type": proto or "tcp"})
            continue
        for b in items:
            out.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": private,
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return out
