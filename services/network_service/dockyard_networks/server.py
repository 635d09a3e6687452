"""gRPC adapter of the network service: decode, call the NetworkManager, encode."""

from dockyard_api.networks.v1 import networks_pb2 as pb
from dockyard_api.networks.v1 import networks_pb2_grpc
from dockyard_api.types.v1 import types_pb2

_ENDPOINT_FIELDS = ("container_id", "network_id", "network_name", "endpoint_id", "netns_path",
                    "hosts_path", "resolv_conf_path", "hostname_path", "interface",
                    "container_name")


def endpoint_pb(view):
    return pb.Endpoint(ip_address=view.get("ip") or "", prefix_len=view.get("prefix_len") or 0,
                       gateway=view.get("gateway") or "", mac_address=view.get("mac") or "",
                       aliases=view.get("aliases") or [],
                       port_bindings=[pb.PortBinding(**b) for b in view.get("port_bindings") or []],
                       dns_names=view.get("dns_names") or [],
                       ipv6_address=view.get("ip6") or "",
                       ipv6_prefix_len=view.get("prefix_len6") or 0,
                       ipv6_gateway=view.get("gateway6") or "",
                       **{k: view.get(k) or "" for k in _ENDPOINT_FIELDS})


def binding_dict(b):
    return {"host_ip": b.host_ip, "host_port": b.host_port, "container_port": b.container_port,
            "protocol": b.protocol}


def network_pb(net, endpoints, manager):
    ipam = []
    if net["subnet"]:
        ipam.append(pb.IPAMConfig(subnet=net["subnet"], ip_range=net["ip_range"],
                                  gateway=net["gateway"] if net["gateway_shown"] else ""))
    if net["subnet6"]:  # its gateway shown only when given (as Docker)
        ipam.append(pb.IPAMConfig(subnet=net["subnet6"], ip_range=net["ip_range6"],
                                  gateway=net["gateway6"] if net["gateway6_given"] else ""))
    return pb.Network(id=net["id"], name=net["name"], driver=net["driver"], scope=net["scope"],
                      created=net["created"], internal=bool(net["internal"]), ipam=ipam,
                      options=net["options"], labels=net["labels"],
                      bridge_name=net["bridge_name"], enable_ipv6=bool(net["enable_ipv6"]),
                      endpoints=[endpoint_pb(v) for v in manager.endpoint_views(endpoints)])


class NetworksServicer(networks_pb2_grpc.NetworksServicer):
    def __init__(self, manager):
        self.m = manager

    def Create(self, request, context):
        net, eps = self.m.create(
            request.name, driver=request.driver, internal=request.internal,
            ipam_configs=[{"subnet": c.subnet, "gateway": c.gateway, "ip_range": c.ip_range}
                          for c in request.ipam],
            options=dict(request.options), labels=dict(request.labels),
            enable_ipv6=request.enable_ipv6)
        return network_pb(net, eps, self.m)

    def Get(self, request, context):
        return network_pb(*self.m.get(request.ref), self.m)

    def List(self, request, context):
        return pb.ListNetworksResponse(networks=[network_pb(n, e, self.m) for n, e in self.m.list()])

    def Remove(self, request, context):
        self.m.remove(request.ref)
        return types_pb2.Empty()

    def Prune(self, request, context):
        return pb.PruneNetworksResponse(removed=self.m.prune(dict(request.label_filters)))

    def Attach(self, request, context):
        view = self.m.attach(request.container_id, request.network, aliases=list(request.aliases),
                             ipv4_address=request.ipv4_address, hostname=request.hostname,
                             domainname=request.domainname, extra_hosts=list(request.extra_hosts),
                             container_name=request.container_name,
                             port_bindings=[binding_dict(b) for b in request.port_bindings],
                             dns=list(request.dns), dns_search=list(request.dns_search),
                             dns_options=list(request.dns_options),
                             ipv6_address=request.ipv6_address, mac_address=request.mac_address,
                             links=list(request.links))
        return endpoint_pb(view)

    def Detach(self, request, context):
        self.m.detach(request.container_id, request.network)
        return types_pb2.Empty()

    def Endpoints(self, request, context):
        return pb.EndpointsResponse(endpoints=[endpoint_pb(v)
                                               for v in self.m.endpoints(request.container_id)])

    def Rename(self, request, context):
        views = self.m.rename(request.container_id, request.container_name)
        return pb.EndpointsResponse(endpoints=[endpoint_pb(v) for v in views])
