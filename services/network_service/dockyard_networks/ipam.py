"""Address management: pick IPv4 subnets from a pool, hand out addresses inside a subnet (IPv4,
and IPv6 for networks created with --ipv6 and an IPv6 subnet).

Pure functions over `ipaddress` objects; the caller keeps the allocations (network.db) and holds
the lock. Error wording follows Docker's (libnetwork ipam / daemon).
"""

import ipaddress

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument

POOL_EXHAUSTED = ("could not find an available, non-overlapping IPv4 address pool among the "
                  "defaults to assign to the network")
POOL_EXHAUSTED_V6 = ("could not find an available, non-overlapping IPv6 address pool among the "
                     "defaults to assign to the network")
POOL_OVERLAP = "invalid pool request: Pool overlaps with other one on this address space"
ADDRESS_IN_USE = "Address already in use"


def subnet_version(value):
    """4 or 6 for a CIDR string (what `docker network create --subnet` was given), None when
    it does not parse (parse_subnet then says why)."""
    try:
        return ipaddress.ip_network(value, strict=False).version
    except ValueError:
        return None


def parse_subnet(value, version=4):
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidArgument("invalid CIDR address: %s" % value) from None
    if net.version != version:
        raise InvalidArgument("invalid CIDR address: %s: not an IPv%d subnet" % (value, version))
    if "/" in value and ipaddress.ip_interface(value).ip != net.network_address:
        # Docker refuses a subnet with host bits set ("10.1.2.3/24").
        raise InvalidArgument("invalid subnet %s: it should be %s" % (value, net))
    return net


def parse_address(value, what="IP address", version=4):
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidArgument("invalid %s: %s" % (what, value)) from None
    if addr.version != version:
        raise InvalidArgument("invalid %s: %s" % (what, value))
    return addr


def parse_mac(value):
    """A 48-bit MAC in Go's net.ParseMAC spellings (aa:bb:.., aa-bb-.., aabb.ccdd.eeff), as
    the lowercase colon form the kernel and inspect show; InvalidArgument with Docker's
    message otherwise."""
    text = value.strip().lower()
    if len(text) == 14 and text[4] == text[9] == ".":
        parts = [text[i:i + 2] for i in (0, 2, 5, 7, 10, 12)]
    else:
        parts = text.split(":") if ":" in text else text.split("-")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise InvalidArgument("invalid endpoint settings:\ninvalid MAC address %s" % value)
    return ":".join(parts)


def default_gateway(subnet):
    """Docker's default gateway: the first usable address of the subnet."""
    return subnet.network_address + 1


def check_gateway(subnet, gateway):
    reserved = (subnet.network_address,) if subnet.version == 6 else (
        subnet.network_address, subnet.broadcast_address)
    if gateway not in subnet or gateway in reserved:
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
    are never handed out (IPv6 has no broadcast: its subnet-router anycast address, the
    network address, is refused as in use, as Docker).
    """
    v6 = subnet.version == 6
    reserved = {subnet.network_address, gateway} if v6 else {
        subnet.network_address, subnet.broadcast_address, gateway}
    if requested is not None:
        if requested not in subnet or (not v6 and requested in (subnet.network_address,
                                                                subnet.broadcast_address)):
            raise InvalidArgument("invalid endpoint settings:\nno configured subnet or ip-range "
                                  "contain the IP address %s" % requested)
        if requested in taken or requested in reserved:
            raise Conflict(ADDRESS_IN_USE)
        return requested
    pool = _range(subnet, ip_range)
    for addr in pool.hosts() if v6 or subnet.prefixlen < 31 else subnet:
        if addr not in reserved and addr not in taken:
            return addr
    raise FailedPrecondition("no available IPv%d addresses on this network's address pools: %s"
                             % (subnet.version, network_name))


def mac_for(addr):
    """Docker's classic MAC: 02:42 followed by the four bytes of the IPv4 address."""
    return "02:42:" + ":".join("%02x" % b for b in addr.packed)
