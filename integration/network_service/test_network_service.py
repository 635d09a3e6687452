"""network-service against the real kernel: sandboxes, the default bridge, user networks."""

import ipaddress
import os
import secrets
import subprocess
import threading

import pytest
from pyroute2 import IPRoute

from dockyard_api.networks.v1 import networks_pb2 as pb
from dockyard_common.errors import Conflict, FailedPrecondition, NotFound
from dockyard_networks import netns


def cid():
    return secrets.token_hex(32)


def ping(netns_path, ip):
    r = subprocess.run(["nsenter", "--net=" + netns_path, "/bin/busybox", "ping", "-c1", "-W1",
                        ip], capture_output=True, text=True, timeout=10)
    return r.returncode == 0


def inside(netns_path):
    """(links, ipv4 addresses per link, default gateway) seen inside a netns, via pyroute2."""
    def look():
        with IPRoute() as ipr:
            names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
            addrs = {}
            for a in ipr.get_addr(family=2):
                addrs.setdefault(names[a["index"]], []).append(
                    "%s/%d" % (a.get_attr("IFA_ADDRESS"), a["prefixlen"]))
            gw = [(r.get_attr("RTA_GATEWAY"), names.get(r.get_attr("RTA_OIF")))
                  for r in ipr.get_routes(family=2) if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY")]
            return sorted(names.values()), addrs, gw
    return netns.run_in(netns_path, look)


def attach(networks, c, network="bridge", **kw):
    return networks.Attach(pb.AttachRequest(container_id=c, network=network, **kw))


def test_default_bridge_two_sandboxes_can_ping(stack, networks):
    a, b = cid(), cid()
    ea, eb = attach(networks, a), attach(networks, b)
    assert ea.ip_address != eb.ip_address
    subnet = ipaddress.ip_network(stack.env["DOCKYARD_BRIDGE_SUBNET"])
    assert ipaddress.ip_address(ea.ip_address) in subnet and ea.prefix_len == subnet.prefixlen
    assert ea.netns_path == os.path.join(stack.env["DOCKYARD_NETNS_DIR"], "dy-" + a[:12])
    links, addrs, gw = inside(ea.netns_path)
    assert links == ["eth0", "lo"]
    assert addrs["eth0"] == ["%s/%d" % (ea.ip_address, ea.prefix_len)]
    assert gw == [(ea.gateway, "eth0")]
    assert ping(ea.netns_path, eb.ip_address) and ping(eb.netns_path, ea.ip_address)
    assert ping(ea.netns_path, ea.gateway)
    assert ea.ip_address in open(ea.hosts_path).read()
    assert open(ea.hostname_path).read() == a[:12] + "\n"
    with IPRoute() as ipr:
        br = ipr.link_lookup(ifname=stack.env["DOCKYARD_BRIDGE_NAME"])
        assert br, "the default bridge exists"
    networks.Detach(pb.DetachRequest(container_id=a))
    assert not os.path.exists(ea.netns_path) and not os.path.exists(ea.hosts_path)
    networks.Detach(pb.DetachRequest(container_id=a))  # idempotent
    assert not ping(eb.netns_path, ea.ip_address)


def test_none_network_has_only_loopback(networks):
    ep = attach(networks, cid(), "none")
    assert ep.ip_address == "" and ep.netns_path
    links, addrs, gw = inside(ep.netns_path)
    assert links == ["lo"] and gw == []
    assert addrs["lo"] == ["127.0.0.1/8"]


def test_host_network_has_no_netns(networks):
    ep = attach(networks, cid(), "host")
    assert ep.netns_path == "" and ep.interface == ""
    assert os.path.exists(ep.hosts_path) and os.path.exists(ep.resolv_conf_path)


def test_missing_network(networks):
    with pytest.raises(NotFound, match="network ghost not found"):
        attach(networks, cid(), "ghost")
    with pytest.raises(NotFound, match="network ghost not found"):
        networks.Get(pb.GetNetworkRequest(ref="ghost"))


def test_user_network_lifecycle(stack, networks):
    net = networks.Create(pb.CreateNetworkRequest(name="it-net", labels={"k": "v"}))
    stack.bridges.add(net.bridge_name)
    assert net.bridge_name == "br-" + net.id[:12] and net.driver == "bridge"
    with IPRoute() as ipr:
        assert ipr.link_lookup(ifname=net.bridge_name)
    with pytest.raises(Conflict, match="already exists"):
        networks.Create(pb.CreateNetworkRequest(name="it-net"))
    a, b = cid(), cid()
    attach(networks, a, "bridge")
    ea = attach(networks, a, "it-net", aliases=["x"])
    eb = attach(networks, b, "it-net")
    assert ea.interface == "eth1" and eb.interface == "eth0"
    links, addrs, gw = inside(ea.netns_path)
    assert links == ["eth0", "eth1", "lo"] and len(gw) == 1 and gw[0][1] == "eth0"
    assert ping(eb.netns_path, ea.ip_address)
    got = networks.Get(pb.GetNetworkRequest(ref=net.id[:8]))
    assert {e.container_id for e in got.endpoints} == {a, b}
    with pytest.raises(FailedPrecondition, match="active endpoints"):
        networks.Remove(pb.GetNetworkRequest(ref="it-net"))
    networks.Detach(pb.DetachRequest(container_id=a, network="it-net"))
    assert inside(ea.netns_path)[0] == ["eth0", "lo"]
    networks.Detach(pb.DetachRequest(container_id=b))
    networks.Remove(pb.GetNetworkRequest(ref="it-net"))
    with IPRoute() as ipr:
        assert not ipr.link_lookup(ifname=net.bridge_name)
    with pytest.raises(FailedPrecondition, match="pre-defined"):
        networks.Remove(pb.GetNetworkRequest(ref="bridge"))


def test_custom_subnet_and_static_ip(stack, networks):
    net = networks.Create(pb.CreateNetworkRequest(
        name="it-static", ipam=[pb.IPAMConfig(subnet="10.252.7.0/24", gateway="10.252.7.1")]))
    stack.bridges.add(net.bridge_name)
    ep = attach(networks, cid(), "it-static", ipv4_address="10.252.7.50")
    assert ep.ip_address == "10.252.7.50"
    assert inside(ep.netns_path)[1]["eth0"] == ["10.252.7.50/24"]
    with pytest.raises(Conflict, match="Address already in use"):
        attach(networks, cid(), "it-static", ipv4_address="10.252.7.50")


def test_restart_keeps_endpoints_working(stack, networks):
    a, b = cid(), cid()
    ea, eb = attach(networks, a), attach(networks, b)
    networks.restart()
    assert [e.ip_address for e in networks.Endpoints(pb.EndpointsRequest(container_id=a)).endpoints] \
        == [ea.ip_address]
    assert ping(ea.netns_path, eb.ip_address)
    ec = attach(networks, cid())
    assert ec.ip_address not in (ea.ip_address, eb.ip_address)
    assert ping(ec.netns_path, ea.ip_address)


def test_ipam_exhaustion_is_a_clear_error_and_release_frees_an_address(stack, networks):
    # A /29 has 8 addresses: network, gateway and broadcast leave 5 for containers.
    net = networks.Create(pb.CreateNetworkRequest(
        name="it-tiny", ipam=[pb.IPAMConfig(subnet="10.252.9.0/29", gateway="10.252.9.1")]))
    stack.bridges.add(net.bridge_name)
    holders = [cid() for _ in range(5)]
    ips = {attach(networks, c, "it-tiny").ip_address for c in holders}
    assert len(ips) == 5
    late = cid()
    with pytest.raises(FailedPrecondition, match="no available IPv4 addresses"):
        attach(networks, late, "it-tiny")
    networks.Detach(pb.DetachRequest(container_id=holders[0], network=""))
    assert attach(networks, late, "it-tiny").ip_address in ips
    for c in holders[1:] + [late]:
        networks.Detach(pb.DetachRequest(container_id=c, network=""))
    networks.Remove(pb.GetNetworkRequest(ref="it-tiny"))


def test_concurrent_attaches_get_distinct_ips(networks):
    ips, errors = [], []

    def go():
        try:
            ips.append(attach(networks, cid()).ip_address)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ips)) == 8


def iptables(table):
    return subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True,
                          text=True, check=True).stdout


def test_firewall_chains_and_isolation(stack, networks):
    prefix = stack.env["DOCKYARD_IPTABLES_CHAIN_PREFIX"]
    n1 = networks.Create(pb.CreateNetworkRequest(name="iso1"))
    n2 = networks.Create(pb.CreateNetworkRequest(name="iso2", internal=True))
    stack.bridges |= {n1.bridge_name, n2.bridge_name}
    filt, nat = iptables("filter"), iptables("nat")
    assert "-A FORWARD -j %s-FORWARD" % prefix in filt
    assert "-i %s -o %s -j DROP" % (n1.bridge_name, n2.bridge_name) in filt
    assert "-A %s-POSTROUTING -s %s ! -o %s -j MASQUERADE" % (
        prefix, n1.ipam[0].subnet, n1.bridge_name) in nat
    assert n2.ipam[0].subnet not in nat  # internal: no way out
    a, b, c = cid(), cid(), cid()
    ea, eb, ec = attach(networks, a, "iso1"), attach(networks, b, "iso1"), attach(networks, c, "iso2")
    assert ping(ea.netns_path, eb.ip_address)
    assert not ping(ea.netns_path, ec.ip_address)
    assert inside(ec.netns_path)[2] == []  # internal network: no default route
    for x in (a, b, c):
        networks.Detach(pb.DetachRequest(container_id=x))
    networks.Remove(pb.GetNetworkRequest(ref="iso1"))
    assert n1.bridge_name not in iptables("filter")
