"""/networks/*: a thin facade over network-service with Docker's shapes and messages.

connect/disconnect change a container (its record, its sandbox): they are delegated to the
containers backend (`backend/containers.py`: connect_network / disconnect_network)."""

from flask import Blueprint

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.networks.v1 import networks_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors

from ..api_types import NETWORK_CONNECT, NETWORK_CREATE, NETWORK_DISCONNECT
from ..backend import event_attrs
from ..events import match_labels
from ..httperrors import error_response
from ..webutil import clients, daemon, empty, exact_bool, filters_arg, json_body, json_response
from .swarm import NOT_A_MANAGER

bp = Blueprint("networks", __name__)

PREDEFINED = ("bridge", "host", "none")


def network_json(n, names=None, with_containers=False):
    containers = {}
    if with_containers:
        for ep in n.endpoints:
            containers[ep.container_id] = {
                "Name": (names or {}).get(ep.container_id) or ep.container_name.lstrip("/"),
                "EndpointID": ep.endpoint_id, "MacAddress": ep.mac_address,
                "IPv4Address": "%s/%d" % (ep.ip_address, ep.prefix_len) if ep.ip_address else "",
                "IPv6Address": ("%s/%d" % (ep.ipv6_address, ep.ipv6_prefix_len)
                                if ep.ipv6_address else "")}
    ipam = [{k: v for k, v in (("Subnet", c.subnet), ("IPRange", c.ip_range), ("Gateway", c.gateway)) if v}
            for c in n.ipam]
    return {"Name": n.name, "Id": n.id, "Created": n.created, "Scope": n.scope or "local",
            "Driver": n.driver, "EnableIPv6": n.enable_ipv6,
            "IPAM": {"Driver": "default", "Options": None if n.name in PREDEFINED else {},
                     "Config": ipam},
            "Internal": n.internal, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
            "Options": dict(n.options), "Labels": dict(n.labels)}


def _get(ref):
    try:
        return clients().networks.Get(networks_pb2.GetNetworkRequest(ref=ref))
    except errors.NotFound:
        raise errors.NotFound("network %s not found" % ref)


def _container_names():
    try:
        return {c.id: c.name for c in clients().containers.List(
            containers_pb2.ListContainersRequest(all=True)).containers}
    except errors.DockyardError:
        return {}


def _event(action, net):
    event_attrs.emit_network(daemon().events, action, net.id, net.name, net.driver)


@bp.post("/networks/create")
def create_network():
    body = json_body(required=True, schema=NETWORK_CREATE)
    name = body.get("Name")
    if not name or not isinstance(name, str):
        raise errors.InvalidArgument("network name is required")
    if name in PREDEFINED:
        return error_response(403, "%s is a pre-defined network and cannot be created" % name)
    driver = body.get("Driver") or "bridge"
    if driver == "overlay":  # swarm scope; other drivers are network-service's to judge
        raise errors.Unavailable(NOT_A_MANAGER)     # 503 as the swarm routes (dockerd: 500)
    ipam_cfg = ((body.get("IPAM") or {}).get("Config")) or []
    if not isinstance(ipam_cfg, list):
        raise errors.InvalidArgument("IPAM.Config must be a list")
    ipam = [networks_pb2.IPAMConfig(subnet=c.get("Subnet", ""), gateway=c.get("Gateway", ""),
                                    ip_range=c.get("IPRange", "")) for c in ipam_cfg]
    labels = body.get("Labels") or {}
    options = body.get("Options") or {}
    if not isinstance(labels, dict) or not isinstance(options, dict):
        raise errors.InvalidArgument("Labels and Options must be objects")
    if _exists_by_name(name):
        raise errors.Conflict("network with name %s already exists" % name)
    req = networks_pb2.CreateNetworkRequest(
        name=name, driver=driver, internal=bool(body.get("Internal")), ipam=ipam,
        options={str(k): str(v) for k, v in options.items()},
        labels={str(k): str(v) for k, v in labels.items()}, check_duplicate=True,
        enable_ipv6=bool(body.get("EnableIPv6")))
    try:
        net = clients().networks.Create(req)
    except errors.Conflict as exc:
        if "already exists" in exc.message or "overlap" in exc.message:
            raise
        raise errors.Conflict("network with name %s already exists" % name)
    except errors.FailedPrecondition as exc:
        if "multiple subnets" in exc.message:  # dockerd answers this one with 403
            return error_response(403, exc.message)
        raise
    _event("create", net)
    return json_response({"Id": net.id, "Warning": ""}, status=201)


def _exists_by_name(name):
    nets = clients().networks.List(types_pb2.Empty()).networks
    return any(n.name == name for n in nets)


@bp.get("/networks")
def list_networks():
    flt = filters_arg()
    for key in flt:
        if key not in ("dangling", "driver", "id", "label", "name", "scope", "type"):
            raise errors.InvalidArgument("Invalid filter '%s'" % key)
    dangling = exact_bool(flt, "dangling", 'invalid value for filter \'dangling\', must be "true" '
                                            '(or "1"), or "false" (or "0")')
    for kind in flt.get("type", ()):
        if kind not in ("custom", "builtin"):
            raise errors.InvalidArgument("invalid filter: 'type'='%s'" % kind)
    out = []
    for n in clients().networks.List(types_pb2.Empty()).networks:
        if flt.get("name") and not any(x in n.name for x in flt["name"]):
            continue
        if flt.get("id") and not any(n.id.startswith(x) for x in flt["id"]):
            continue
        if flt.get("driver") and n.driver not in flt["driver"]:
            continue
        if flt.get("scope") and (n.scope or "local") not in flt["scope"]:
            continue
        if flt.get("type"):
            kind = "builtin" if n.name in PREDEFINED else "custom"
            if kind not in flt["type"]:
                continue
        if dangling is not None and dangling != (not n.endpoints and n.name not in PREDEFINED):
            continue
        if not match_labels(flt, dict(n.labels)):
            continue
        out.append(network_json(n))
    return json_response(out)


@bp.get("/networks/<ref>")
def inspect_network(ref):
    n = _get(ref)
    names = _container_names() if n.endpoints else {}
    return json_response(network_json(n, names, with_containers=True))


@bp.delete("/networks/<ref>")
def remove_network(ref):
    n = _get(ref)
    if n.name in PREDEFINED:
        return error_response(403, "%s is a pre-defined network and cannot be removed" % n.name)
    if n.endpoints:
        return error_response(403, "error while removing network: network %s id %s has active endpoints"
                              % (n.name, n.id))
    try:
        clients().networks.Remove(networks_pb2.GetNetworkRequest(ref=n.id))
    except (errors.FailedPrecondition, errors.Conflict) as exc:
        return error_response(403, "error while removing network: %s" % exc.message)
    _event("destroy", n)
    return empty()


@bp.post("/networks/prune")
def prune_networks():
    flt = filters_arg()
    for key in flt:
        if key not in ("label", "label!", "until"):
            raise errors.InvalidArgument("Invalid filter '%s'" % key)
    removed = []
    for n in clients().networks.List(types_pb2.Empty()).networks:
        if n.name in PREDEFINED or n.endpoints:
            continue
        labels = dict(n.labels)
        if not match_labels(flt, labels):
            continue
        if any((x.partition("=")[0] in labels and (not x.partition("=")[1]
                                                      or labels[x.partition("=")[0]] == x.partition("=")[2]))
               for x in flt.get("label!", ())):
            continue
        try:
            clients().networks.Remove(networks_pb2.GetNetworkRequest(ref=n.id))
        except (errors.FailedPrecondition, errors.Conflict, errors.NotFound):
            continue
        _event("destroy", n)
        removed.append(n.name)
    event_attrs.emit_prune(daemon().events, "network", 0)  # dockerd reports 0 reclaimed
    return json_response({"NetworksDeleted": removed or None})


def _containers_hook(name):
    try:
        from ..backend import containers as cb
    except ImportError:
        return None
    return getattr(cb, name, None)


def _endpoint_request(ref, hook_name, doing, schema):
    """(body, container, network, containers-backend hook) of a connect/disconnect request."""
    body = json_body(required=True, schema=schema)
    container = body.get("Container")
    if not container or not isinstance(container, str):
        raise errors.InvalidArgument("a container name or id is required (\"Container\")")
    net = _get(ref)
    hook = _containers_hook(hook_name)
    if hook is None:
        raise errors.NotImplementedYet("%s is not supported yet" % doing)
    return body, container, net, hook


@bp.post("/networks/<ref>/connect")
def connect_network(ref):
    body, container, net, hook = _endpoint_request(
        ref, "connect_network", "connecting a container to a network", NETWORK_CONNECT)
    hook(daemon(), container, net, body.get("EndpointConfig") or {})
    return empty(200)


@bp.post("/networks/<ref>/disconnect")
def disconnect_network(ref):
    body, container, net, hook = _endpoint_request(
        ref, "disconnect_network", "disconnecting a container from a network", NETWORK_DISCONNECT)
    hook(daemon(), container, net, bool(body.get("Force")))
    return empty(200)

