"""Container links (`docker run --link target[:alias]`): moby's daemon/links.go and
daemon/links/links.go.

On the default bridge a link is registered at create (the target must exist), a start is
refused while a target is not running, the linking container's /etc/hosts gets a line for each
target (written by the network-service, see AttachRequest.links, which rewrites it when the
target comes back with a new address) and its process gets <ALIAS>_* variables.
On a user-defined network a link is only an alias the embedded DNS answers for the linking
container (EndpointSettings.Links): nothing is checked, as dockerd.
"""

import json

from dockyard_api.containers.v1 import containers_pb2
from dockyard_common import errors

from . import container_views as views

DEFAULT_BRIDGE = "bridge"
HOST_ERROR = ("conflicting options: host type networking can't be used with links. "
              "This would result in undefined behavior")
CONTAINER_ERROR = ("conflicting options: container type network can't be used with links. "
                   "This would result in undefined behavior")


def parse_link(value):
    """(target, alias) of "target:alias" or "target" (opts.ParseLink; an inspected
    "/target:/parent/alias" too)."""
    if not value:
        raise errors.InvalidArgument("empty string specified for links")
    parts = str(value).split(":")
    if len(parts) > 2:
        raise errors.InvalidArgument("bad format for links: %s" % value)
    if len(parts) == 1:
        return value.lstrip("/"), value.lstrip("/")
    if parts[0].startswith("/"):
        return parts[0][1:], parts[1].rsplit("/", 1)[-1]
    return parts[0], parts[1]


def endpoint_links(values):
    """EndpointSettings.Links as "target:alias" entries (what the network-service keeps)."""
    return ["%s:%s" % parse_link(v) for v in values or []]


def uses_default_bridge(mode):
    return mode in ("", "default", DEFAULT_BRIDGE)


def prepare(backend, name, hc, networking):
    """At create: check the links of `hc` and return the default bridge's "id:alias" entries.
    HostConfig.Links becomes what dockerd's inspect shows ("/target:/name/alias", or null on
    other networks). On a user-defined network HostConfig.Links become the primary endpoint's
    links when it has none (what docker-compose v1 relies on)."""
    links = [str(v) for v in hc.get("Links") or []]
    mode = hc.get("NetworkMode") or "default"
    if not links:
        return []
    if mode == "host":
        raise errors.InvalidArgument(HOST_ERROR)
    if mode.startswith("container:"):
        raise errors.InvalidArgument(CONTAINER_ERROR)
    if not uses_default_bridge(mode):
        hc["Links"] = None
        if mode != "none":
            eps = networking.setdefault("EndpointsConfig", {}) or {}
            networking["EndpointsConfig"] = eps
            epc = eps.get(mode)
            if epc is None:
                epc = eps[mode] = {}
            if not epc.get("Links"):
                epc["Links"] = links
        return []
    entries, shown = [], []
    for value in links:
        target_ref, alias = parse_link(value)
        target = _target(backend, target_ref)
        entries.append("%s:%s" % (target.id, alias))
        shown.append("/%s:/%s/%s" % (target.name, name, alias))
    hc["Links"] = shown
    return entries


def _target(backend, ref):
    try:
        target = backend.get(ref)
    except errors.NotFound:
        raise errors.InvalidArgument("could not get container for %s: No such container: %s"
                                     % (ref, ref)) from None
    seen = set()
    while True:  # a target sharing another one's netns is linked through that one (as dockerd)
        mode = backend.host_config_of(target).get("NetworkMode") or "default"
        if mode == "host":
            raise errors.InvalidArgument(HOST_ERROR)
        if not mode.startswith("container:") or target.id in seen:
            return target
        seen.add(target.id)
        other = mode.split(":", 1)[1]
        try:
            target = backend.get(other)
        except errors.NotFound:
            raise errors.InvalidArgument("Could not get container for %s" % other) from None


def bridge_links(doc):
    """The default bridge's "id:alias" entries of a record's network document."""
    if not uses_default_bridge(doc.get("mode") or "default"):
        return []
    return list(((doc.get("networks") or {}).get(DEFAULT_BRIDGE) or {}).get("links") or [])


def check_targets(backend, rec):
    """Before a start: every target of a default-bridge link runs there (dockerd refuses the
    start otherwise). Returns [(alias, target record)]; a removed target is dropped."""
    out = []
    for entry in bridge_links(views.loads(rec.network_json, {}) or {}):
        target_id, _, alias = entry.partition(":")
        try:
            target = backend.get(target_id)
        except errors.NotFound:
            continue
        tdoc = views.loads(target.network_json, {}) or {}
        if DEFAULT_BRIDGE not in (tdoc.get("networks") or {}):
            raise errors.InvalidArgument("Cannot link to /%s, as it does not belong to the "
                                         "default network" % target.name)
        if not target.state.running:
            raise errors.Conflict("Cannot link to a non running container: /%s AS /%s/%s"
                                  % (target.name, rec.name, alias))
        out.append((alias, target))
    return out


def link_env(parent_name, alias, target_config, target_ip):
    """The <ALIAS>_* variables of one link (moby links.Link.ToEnv)."""
    prefix = alias.upper().replace("-", "_")
    ports = sorted(_ports(target_config), key=lambda p: (p[0], p[1] != "tcp"))
    env = []
    if ports:
        env.append("%s_PORT=%s://%s:%d" % (prefix, ports[0][1], target_ip, ports[0][0]))
    i = 0
    while i < len(ports):  # runs of 3+ contiguous ports also get _START/_END (moby's quirks kept)
        port, proto = ports[i]
        j = _next_contiguous(ports, port, i)
        if j > i + 1:
            key = "%s_PORT_%d_%s" % (prefix, port, proto.upper())
            end_port, end_proto = ports[j]
            env += ["%s_START=%s://%s:%d" % (key, proto, target_ip, port),
                    "%s_ADDR=%s" % (key, target_ip), "%s_PROTO=%s" % (key, proto),
                    "%s_PORT_START=%d" % (key, port),
                    "%s_PORT_%d_%s_END=%s://%s:%d" % (prefix, port, end_proto.upper(), end_proto,
                                                     target_ip, end_port),
                    "%s_PORT_%d_%s_PORT_END=%d" % (prefix, port, end_proto.upper(), end_port)]
            i = j + 1
        else:
            i += 1
    for port, proto in ports:
        key = "%s_PORT_%d_%s" % (prefix, port, proto.upper())
        env += ["%s=%s://%s:%d" % (key, proto, target_ip, port), "%s_ADDR=%s" % (key, target_ip),
                "%s_PORT=%d" % (key, port), "%s_PROTO=%s" % (key, proto)]
    env.append("%s_NAME=/%s/%s" % (prefix, parent_name, alias))
    for item in target_config.get("Env") or []:
        key, sep, value = str(item).partition("=")
        if sep and key not in ("HOME", "PATH"):
            env.append("%s_ENV_%s=%s" % (prefix, key, value))
    return list(dict.fromkeys(env))  # a range repeats its first port's _ADDR and _PROTO


def _ports(config):
    out = []
    for spec in config.get("ExposedPorts") or {}:
        port, _, proto = str(spec).partition("/")
        try:
            out.append((int(port), (proto or "tcp").lower()))
        except ValueError:
            continue
    return out


def _next_contiguous(ports, value, index):
    if index + 1 == len(ports):
        return index
    for i in range(index + 1, len(ports)):
        if ports[i][0] > value + 1:
            return i - 1
        value += 1
    return len(ports) - 1


def process_env(spec_env, config, tty, linked):
    """The process environment with the links' variables: after PATH, HOSTNAME (and TERM),
    before the container's own variables, which win (CreateDaemonEnvironment)."""
    from dockyard_common import oci
    hostname = next((e for e in spec_env if e.startswith("HOSTNAME=")), "HOSTNAME=")
    env = ["PATH=" + oci.DEFAULT_PATH, hostname] + (["TERM=xterm"] if tty else []) + linked
    return oci.replace_or_append_env(env, config.get("Env") or [])


def _env_of(backend, rec, targets):
    """The <ALIAS>_* variables of [(alias, target record)], with the targets' current addresses."""
    linked = []
    for alias, target in targets:
        tdoc = views.loads(target.network_json, {}) or {}
        ip = ((tdoc.get("networks") or {}).get(DEFAULT_BRIDGE) or {}).get("ip_address") or ""
        linked += link_env(rec.name, alias, backend.config_of(target), ip)
    return linked


def exec_env(backend, rec):
    """The links' variables for an exec in a running container (dockerd's ContainerExecCreate
    sets them up again); targets that are gone are left out."""
    targets = []
    for entry in bridge_links(views.loads(rec.network_json, {}) or {}):
        target_id, _, alias = entry.partition(":")
        try:
            targets.append((alias, backend.get(target_id)))
        except errors.NotFound:
            continue
    return _env_of(backend, rec, targets)


def refresh_spec_env(backend, rec, targets):
    """Before a start: put the links' variables (with the targets' current addresses) into the
    OCI spec the task is made from."""
    if not targets and not bridge_links(views.loads(rec.network_json, {}) or {}):
        return
    linked = _env_of(backend, rec, targets)
    spec = json.loads(rec.spec_json or b"{}") or {}
    process = spec.setdefault("process", {})
    config = backend.config_of(rec)
    env = process_env(process.get("env") or [], config, bool(config.get("Tty")), linked)
    if env != process.get("env"):
        process["env"] = env
        backend.c.containers.Update(containers_pb2.UpdateContainerRequest(
            id=rec.id, spec_json=json.dumps(spec).encode()))
