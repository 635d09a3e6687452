"""IPv4 address management: pick subnets from a pool, hand out addresses inside a subnet.

Pure functions over `ipaddress` objects; the caller keeps the allocations (network.db) and holds
the lock. Error wording follows Docker's (libnetwork ipam / daemon).
"""

import ipaddress

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument

POOL_EXHAUSTED = ("could not find an available, non-overlapping IPv4 address pool among the "
                  "defaults to assign to the network")
POOL_OVERLAP = "invalid pool request: Pool overlaps with other one on this address space"
ADDRESS_IN_USE = "Address already in use"


def parse_subnet(value):
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidArgument("invalid CIDR address: %s" % value) from None
    if net.version != 4:
        raise InvalidArgument("IPv6 subnets are not supported yet: %s" % value)
    if "/" in value and ipaddress.ip_interface(value).ip != net.network_address:
        # Docker refuses a subnet with host bits set ("10.1.2.3/24").
        raise InvalidArgument("invalid subnet %s: it should be %s" % (value, net))
    return net


def parse_address(value, what="IP address"):
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidArgument("invalid %s: %s" % (what, value)) from None
    if addr.version != 4:
        raise InvalidArgument("IPv6 addresses are not supported yet: %s" % value)
    return addr


def default_gateway(subnet):
    """Docker's default gateway: the first usable address of the subnet."""
    return subnet.network_address + 1


def check_gateway(subnet, gateway):
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument("no matching subnet for gateway %s" % gateway)


def check_overlap(subnet, used):
    """Refuse a user-given subnet overlapping one of `used` (the subnets of other networks)."""
    if any(subnet.overlaps(other) for other in used):
        raise Conflict(POOL_OVERLAP)


def choose_subnet(pool, prefix, used):
    """The first /prefix inside `pool` overlapping none of `used` (networks and host routes)."""
    pool = ipaddress.ip_network(pool)
    for candidate in pool.subnets(new_prefix=prefix) if pool.prefixlen <= prefix else [pool]:
        if not any(candidate.overlaps(other) for other in used):
            return candidate
    raise FailedPrecondition(POOL_EXHAUSTED)


def _range(subnet, ip_range):
    return ipaddress.ip_network(ip_range) if ip_range else subnet


def allocate(subnet, gateway, taken, ip_range=None, requested=None, network_name=""):
    """Return a free address (an IPv4Address) of `subnet`, or `requested` if it is free.

    `taken` is a set of addresses in use; the network and broadcast addresses and the gateway
    are never handed out.
    """
    reserved = {subnet.network_address, subnet.broadcast_address, gateway}
    if requested is not None:
        if requested not in subnet or requested in (subnet.network_address,
                                                    subnet.broadcast_address):
            raise InvalidArgument("invalid endpoint settings:\nno configured subnet or ip-range "
                                  "contain the IP address %s" % requested)
        if requested in taken or requested == gateway:
            raise Conflict(ADDRESS_IN_USE)
        return requested
    for addr in _range(subnet, ip_range).hosts() if subnet.prefixlen < 31 else subnet:
        if addr not in reserved and addr not in taken:
            return addr
    raise FailedPrecondition("no available IPv4 addresses on this network's address pools: %s"
                             % network_name)


def mac_for(addr):
    """Docker's classic MAC: 02:42 followed by the four bytes of the IPv4 address."""
    return "02:42:" + ":".join("%02x" % b for b in addr.packed)
