"""python -m dockyard_networks: serve dockyard_api.networks.v1.Networks on STATE/network.sock."""

import logging

from dockyard_api.networks.v1.networks_pb2_grpc import add_NetworksServicer_to_server
from dockyard_common import grpcutil, logsetup
from dockyard_common.paths import Layout

from . import dnsfiles, portmap, resolvconf
from .bridge import Links
from .config import NetConfig
from .dnsserver import DnsServer
from .firewall import Firewall
from .manager import NetworkManager
from .server import NetworksServicer
from .userproxy import UserlandProxy

log = logging.getLogger("dockyard_networks")


def quiet_libraries():
    # pyroute2 logs every netlink message at debug: far too much even for test stacks.
    for name in ("pyroute2", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)


def upstreams(cfg, resolv_conf="/etc/resolv.conf"):
    """Where the embedded DNS forwards names that are not ours: the configured list, else the
    host's nameservers (reached from the host's namespace, so local ones work too)."""
    if cfg.dns_upstreams is not None:
        return list(cfg.dns_upstreams)
    return [(ip, 53) for ip in resolvconf.nameservers(dnsfiles.read_text(resolv_conf))]


def main():
    logsetup.setup("network")
    quiet_libraries()
    layout = Layout.from_env()
    cfg = NetConfig.from_env(layout=layout)
    dns = DnsServer(upstreams=upstreams(cfg))
    dns.start()
    # IPv6 sides of published ports go through the userland proxy (IPv4 is kernel NAT)
    ports = portmap.PortAllocator(proxy=UserlandProxy())
    manager = NetworkManager(cfg, Links(), firewall=Firewall(cfg.chain_prefix), dns=dns,
                             ports=ports)
    server = grpcutil.Server(layout.socket("network"))
    server.add(add_NetworksServicer_to_server, NetworksServicer(manager),
               "dockyard_api.networks.v1.Networks")
    manager.reconcile()     # before serving: no call sees a network half restored
    server.start()
    server.ready()
    # On shutdown nothing is torn down: containers keep their netns, veths and rules.
    server.serve_forever()


if __name__ == "__main__":
    main()
