"""The IPv6 half of a new network's address plan (`docker network create --ipv6 --subnet ...`).

IPAM configs come as one list (Docker's IPAM.Config); `split` sorts them by the family of their
subnet. There is no default IPv6 pool (Docker 20.10): --ipv6 needs a subnet. An IPv6 subnet
without --ipv6 is kept and shown, but gives no addresses (as Docker).
"""

from dockyard_common.errors import FailedPrecondition, InvalidArgument, NotFound

from . import ipam

MULTIPLE_SUBNETS = "bridge driver doesn't support multiple subnets"


def split(configs):
    """(IPv4 configs, IPv6 configs); a config without a parseable subnet counts as IPv4
    (where the usual errors about it are raised)."""
    v4, v6 = [], []
    for cfg in configs:
        (v6 if ipam.subnet_version(cfg.get("subnet") or "") == 6 else v4).append(cfg)
    return v4, v6


def plan_v6(configs, enable_ipv6, used):
    """The network columns of its IPv6 config (subnet6, gateway6, gateway6_given, ip_range6),
    {} without one. `used`: the IPv6 subnets of the other networks."""
    if len(configs) > 1:
        raise FailedPrecondition(MULTIPLE_SUBNETS)
    if not configs:
        if enable_ipv6:
            raise NotFound(ipam.POOL_EXHAUSTED_V6)
        return {}
    cfg = configs[0]
    subnet = ipam.parse_subnet(cfg["subnet"], version=6)
    ipam.check_overlap(subnet, used)
    if cfg.get("gateway"):
        gateway = ipam.parse_address(cfg["gateway"], "gateway", version=6)
    else:
        gateway = ipam.default_gateway(subnet)
    ipam.check_gateway(subnet, gateway)
    ip_range = ""
    if cfg.get("ip_range"):
        rng = ipam.parse_subnet(cfg["ip_range"], version=6)
        if not rng.subnet_of(subnet):
            raise InvalidArgument("invalid ip-range %s: it is not inside subnet %s"
                                  % (rng, subnet))
        ip_range = str(rng)
    return {"subnet6": str(subnet), "gateway6": str(gateway),
            "gateway6_given": int(bool(cfg.get("gateway"))), "ip_range6": ip_range}
