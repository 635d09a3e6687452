"""IPv6 user networks and requested MAC addresses against the real kernel: addresses and routes
inside the sandboxes, ping over IPv6, AAAA answers of the embedded DNS, the ip6tables chain,
and nothing left after removal (the fixture checks links, netns files and rules)."""

import secrets
import subprocess

import pytest
from dnslib import QTYPE, DNSRecord
from pyroute2 import IPRoute

from dockyard_api.networks.v1 import networks_pb2 as pb
from dockyard_common.errors import Conflict, InvalidArgument, NotFound
from dockyard_networks import netns

SUBNET6 = "fd00:dead:beef::/64"


def cid():
    return secrets.token_hex(32)


def attach(networks, c, network, **kw):
    return networks.Attach(pb.AttachRequest(container_id=c, network=network, **kw))


def ping6(netns_path, ip):
    r = subprocess.run(["nsenter", "--net=" + netns_path, "/bin/busybox", "ping", "-6", "-c1",
                        "-W2", ip], capture_output=True, text=True, timeout=10)
    return r.returncode == 0


def inside6(netns_path, ifname="eth0"):
    """(global IPv6 addresses with flags, IPv6 default gateways, MAC) of a link in a netns."""
    def look():
        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname=ifname)[0]
            addrs = ["%s/%d" % (a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                     for a in ipr.get_addr(family=10, index=idx) if a["scope"] == 0]
            gws = [r.get_attr("RTA_GATEWAY") for r in ipr.get_routes(family=10)
                   if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY")]
            mac = ipr.get_links(idx)[0].get_attr("IFLA_ADDRESS")
            return addrs, gws, mac
    return netns.run_in(netns_path, look)


def dig(netns_path, name, qtype):
    def ask():
        return DNSRecord.parse(DNSRecord.question(name, qtype).send("127.0.0.11", 53, timeout=2))
    return netns.run_in(netns_path, ask)


def ip6tables():
    return subprocess.run(["ip6tables", "-w", "-S"], capture_output=True, text=True,
                          check=True).stdout


def bridge_addrs6(name):
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            return None
        return ["%s/%d" % (a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                for a in ipr.get_addr(family=10, index=idx[0]) if a["scope"] == 0]


def test_ipv6_network_addresses_ping_dns_and_cleanup(stack, networks):
    prefix = stack.env["DOCKYARD_IPTABLES_CHAIN_PREFIX"]
    with pytest.raises(NotFound, match="non-overlapping IPv6 address pool"):
        networks.Create(pb.CreateNetworkRequest(name="it-v6-nosubnet", enable_ipv6=True))
    net = networks.Create(pb.CreateNetworkRequest(
        name="it-v6", enable_ipv6=True, ipam=[pb.IPAMConfig(subnet=SUBNET6)]))
    stack.bridges.add(net.bridge_name)
    assert net.enable_ipv6 and [c.subnet for c in net.ipam][1] == SUBNET6
    assert bridge_addrs6(net.bridge_name) == ["fd00:dead:beef::1/64"]
    assert "-A %s-FORWARD -i %s -o %s -j ACCEPT" % (prefix, net.bridge_name, net.bridge_name) \
        in ip6tables()
    with pytest.raises(Conflict, match="Pool overlaps"):
        networks.Create(pb.CreateNetworkRequest(
            name="it-v6-overlap", enable_ipv6=True,
            ipam=[pb.IPAMConfig(subnet="fd00:dead:beef::/80")]))
    a, b = cid(), cid()
    ea = attach(networks, a, "it-v6", container_name="v6a")
    eb = attach(networks, b, "it-v6", container_name="v6b", ipv6_address="fd00:dead:beef::99")
    assert (ea.ipv6_address, ea.ipv6_prefix_len, ea.ipv6_gateway) == (
        "fd00:dead:beef::2", 64, "fd00:dead:beef::1")
    addrs, gws, _ = inside6(eb.netns_path)
    assert addrs == ["fd00:dead:beef::99/64"] and gws == ["fd00:dead:beef::1"]
    # usable at once (no duplicate address detection), both ways and to the gateway
    assert ping6(ea.netns_path, eb.ipv6_address) and ping6(eb.netns_path, ea.ipv6_address)
    assert ping6(ea.netns_path, ea.ipv6_gateway)
    assert "fd00:dead:beef::2\t" in open(ea.hosts_path).read()
    r = dig(ea.netns_path, "v6b", "AAAA")
    assert [(QTYPE[x.rtype], str(x.rdata)) for x in r.rr] == [("AAAA", "fd00:dead:beef::99")]
    assert [str(x.rdata) for x in dig(ea.netns_path, "v6b", "A").rr] == [eb.ip_address]
    r = subprocess.run(["nsenter", "--net=" + ea.netns_path, "/bin/busybox", "nslookup",
                        "-type=aaaa", "v6b", "127.0.0.11"], capture_output=True, text=True,
                       timeout=20)
    assert "fd00:dead:beef::99" in r.stdout, r.stdout + r.stderr
    with pytest.raises(Conflict, match="Address already in use"):
        attach(networks, cid(), "it-v6", ipv6_address="fd00:dead:beef::99")
    # a restart keeps the bridge's IPv6 address and the endpoints working
    networks.restart()
    assert bridge_addrs6(net.bridge_name) == ["fd00:dead:beef::1/64"]
    assert ping6(ea.netns_path, eb.ipv6_address)
    for c in (a, b):
        networks.Detach(pb.DetachRequest(container_id=c))
    networks.Remove(pb.GetNetworkRequest(ref="it-v6"))
    assert bridge_addrs6(net.bridge_name) is None
    assert prefix not in ip6tables()  # the chain goes with the last IPv6 network


def test_default_bridge_stays_ipv4_only(networks):
    c = cid()
    ep = attach(networks, c, "bridge")
    assert ep.ip_address and not ep.ipv6_address
    assert inside6(ep.netns_path)[0] == []
    networks.Detach(pb.DetachRequest(container_id=c))


def test_requested_mac_address(stack, networks):
    net = networks.Create(pb.CreateNetworkRequest(name="it-mac"))
    stack.bridges.add(net.bridge_name)
    a, b = cid(), cid()
    ea = attach(networks, a, "bridge", mac_address="02:42:AC:11:00:99")
    assert ea.mac_address == "02:42:ac:11:00:99"
    assert inside6(ea.netns_path)[2] == "02:42:ac:11:00:99"
    # a second network: its own derived address unless asked (Docker's per-endpoint setting)
    e2 = attach(networks, a, "it-mac")
    assert inside6(ea.netns_path, "eth1")[2] == e2.mac_address != ea.mac_address
    with pytest.raises(InvalidArgument, match="invalid MAC address zz"):
        attach(networks, b, "bridge", mac_address="zz")
    with pytest.raises(InvalidArgument, match="cannot assign requested address"):
        attach(networks, b, "bridge", mac_address="01:00:00:00:00:01")  # multicast
    networks.Detach(pb.DetachRequest(container_id=a))
    networks.Remove(pb.GetNetworkRequest(ref="it-mac"))
