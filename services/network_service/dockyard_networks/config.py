"""Settings of the network service, read from the environment (test stacks set their own)."""

import ipaddress
import os
from dataclasses import dataclass

from dockyard_common.paths import Layout


@dataclass(frozen=True)
class NetConfig:
    network_dir: str
    netns_dir: str = "/run/netns"
    bridge_name: str = "dyk0"
    bridge_subnet: str = "10.212.0.0/16"
    chain_prefix: str = "DOCKYARD"
    pool: str = "10.214.0.0/16"
    pool_prefix: int = 24
    # Resolvers for names the embedded DNS does not know: None = the host's resolv.conf.
    dns_upstreams: tuple = None

    @classmethod
    def from_env(cls, env=None, layout=None):
        env = os.environ if env is None else env
        layout = layout or Layout.from_env(env)
        cfg = cls(
            network_dir=layout.network_dir,
            netns_dir=env.get("DOCKYARD_NETNS_DIR") or "/run/netns",
            bridge_name=env.get("DOCKYARD_BRIDGE_NAME") or "dyk0",
            bridge_subnet=env.get("DOCKYARD_BRIDGE_SUBNET") or "10.212.0.0/16",
            chain_prefix=env.get("DOCKYARD_IPTABLES_CHAIN_PREFIX") or "DOCKYARD",
            pool=env.get("DOCKYARD_NETWORK_POOL") or "10.214.0.0/16",
            dns_upstreams=parse_upstreams(env.get("DOCKYARD_DNS_UPSTREAMS")),
        )
        ipaddress.ip_network(cfg.bridge_subnet)  # fail early on a bad value
        ipaddress.ip_network(cfg.pool)
        return cfg

    @property
    def db_path(self):
        return os.path.join(self.network_dir, "network.db")

    @property
    def endpoints_dir(self):
        return os.path.join(self.network_dir, "endpoints")

    def sandbox_files_dir(self, container_id):
        return os.path.join(self.endpoints_dir, container_id)

    def netns_path(self, container_id):
        return os.path.join(self.netns_dir, "dy-" + container_id[:12])


def parse_upstreams(value):
    """DOCKYARD_DNS_UPSTREAMS: unset -> None (the host's resolv.conf); "none" -> no forwarding;
    else a comma-separated list of "ip", "ip:port" or "[ipv6]:port"."""
    if value is None or not value.strip():
        return None
    if value.strip().lower() == "none":
        return ()
    out = []
    for item in value.split(","):
        item = item.strip()
        host, port = item, 53
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else 53
        elif item.count(":") == 1:
            host, port = item.split(":")[0], int(item.split(":")[1])
        ipaddress.ip_address(host)  # fail early on a bad value
        out.append((host, port))
    return tuple(out)
