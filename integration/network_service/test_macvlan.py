"""macvlan and ipvlan networks against the real kernel.

The parent is always a veth pair made here (never a host interface). Kernels differ: this CI
kernel has macvlan but no dummy, ipvlan or 8021q links, where Docker answers "operation not
supported"; those tests check whichever behaviour the running kernel calls for.
"""

import errno
import secrets
import subprocess

import pytest
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from conftest import run_teardown
from dockyard_api.networks.v1 import networks_pb2 as pb
from dockyard_api.types.v1 import types_pb2
from dockyard_common.errors import FailedPrecondition, Internal
from dockyard_networks import netns


def cid():
    return secrets.token_hex(32)


def ping(netns_path, target):
    r = subprocess.run(["nsenter", "--net=" + netns_path, "/bin/busybox", "ping", "-c1", "-W2",
                        target], capture_output=True, text=True, timeout=20)
    return r.returncode == 0


def resolve(netns_path, name):
    """The address the embedded DNS gives for `name` (nsenter keeps the host's resolv.conf,
    so ask 127.0.0.11 directly)."""
    r = subprocess.run(["nsenter", "--net=" + netns_path, "/bin/busybox", "nslookup", name,
                        "127.0.0.11"], capture_output=True, text=True, timeout=20)
    found = [line.split()[-1] for line in r.stdout.splitlines()[2:] if "Address" in line]
    return found[0] if found else None


def by_name(netns_path, name):
    ip = resolve(netns_path, name)
    return bool(ip) and ping(netns_path, ip)


def link_exists(name):
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def kernel_has(kind, parent):
    """Can this kernel make a `kind` link (probed on our own parent)?"""
    name = "mvk" + secrets.token_hex(3)
    with IPRoute() as ipr:
        spec = {"dummy": {}, "ipvlan": {"link": ipr.link_lookup(ifname=parent)[0]}}[kind]
        try:
            ipr.link("add", ifname=name, kind=kind, **spec)
        except NetlinkError as exc:
            if exc.code == errno.EOPNOTSUPP:
                return False
            raise
        ipr.link("del", index=ipr.link_lookup(ifname=name)[0])
        return True


def port_of(netns_path, ifname="eth0"):
    """(kind, MAC, IPv4 addresses, default route (gateway, dev)) of a link inside a netns."""
    def look():
        with IPRoute() as ipr:
            link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
            info = link.get_attr("IFLA_LINKINFO")
            addrs = ["%s/%d" % (a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                     for a in ipr.get_addr(family=2, index=link["index"])]
            gw = [(r.get_attr("RTA_GATEWAY"), r.get_attr("RTA_OIF") == link["index"])
                  for r in ipr.get_routes(family=2) if r["dst_len"] == 0]
            return (info.get_attr("IFLA_INFO_KIND"), link.get_attr("IFLA_ADDRESS"), addrs, gw)
    return netns.run_in(netns_path, look)


@pytest.fixture
def parent(stack):
    """A veth pair of our own, both ends up (macvlan ports need a parent with carrier)."""
    name = "mvt" + secrets.token_hex(3)
    with IPRoute() as ipr:
        ipr.link("add", ifname=name, kind="veth", peer={"ifname": name + "p"})
        for n in (name, name + "p"):
            ipr.link("set", index=ipr.link_lookup(ifname=n)[0], state="up")
    yield name
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            ipr.link("del", index=found[0])


def create(networks, name, driver="macvlan", parent="", subnet="10.77.0.0/24", **kw):
    options = dict(kw.pop("options", {}))
    if parent:
        options["parent"] = parent
    return networks.Create(pb.CreateNetworkRequest(
        name=name, driver=driver, options=options,
        ipam=[pb.IPAMConfig(subnet=subnet, gateway=subnet.replace("0/24", "1"))], **kw))


def attach(networks, c, network, **kw):
    return networks.Attach(pb.AttachRequest(container_id=c, network=network, **kw))


def test_macvlan_containers_reach_each_other_by_name(stack, networks, parent):
    net = create(networks, "it-mv", parent=parent)
    assert net.driver == "macvlan" and dict(net.options) == {"parent": parent}
    assert net.bridge_name == ""
    with pytest.raises(FailedPrecondition, match="network dm-%s is already using parent interface %s"
                                       % (net.id[:12], parent)):
        create(networks, "it-mv2", parent=parent, subnet="10.78.0.0/24")
    a, b = cid(), cid()
    ea = attach(networks, a, "it-mv", container_name="one")
    eb = attach(networks, b, "it-mv", container_name="two", port_bindings=[
        pb.PortBinding(container_port=80, protocol="tcp", host_port=18080)])
    assert (ea.ip_address, ea.gateway, ea.mac_address) == ("10.77.0.2", "10.77.0.1",
                                                           "02:42:0a:4d:00:02")
    assert list(eb.port_bindings) == []  # -p is ignored on macvlan (as Docker)
    assert port_of(ea.netns_path) == ("macvlan", "02:42:0a:4d:00:02", ["10.77.0.2/24"],
                                      [("10.77.0.1", True)])
    assert resolve(ea.netns_path, "two") == eb.ip_address  # embedded DNS
    assert by_name(ea.netns_path, "two") and by_name(eb.netns_path, "one")
    assert "nameserver 127.0.0.11" in open(ea.resolv_conf_path).read()

    networks.restart()  # live restore: the ports stay, new ones still come
    assert [e.ip_address for e in networks.Endpoints(pb.EndpointsRequest(container_id=a))
            .endpoints] == ["10.77.0.2"]
    assert by_name(ea.netns_path, "two")
    c = cid()
    attach(networks, c, "bridge", container_name="three")
    ec = attach(networks, c, "it-mv")  # docker network connect
    assert ec.interface == "eth1" and ec.ip_address == "10.77.0.4"
    routes = port_of(ec.netns_path, "eth1")[3]
    assert [on_eth1 for _, on_eth1 in routes] == [False]  # the bridge keeps the default route
    assert by_name(ec.netns_path, "one")
    networks.Detach(pb.DetachRequest(container_id=c, network="it-mv"))
    assert not ping(ec.netns_path, ea.ip_address)

    with pytest.raises(FailedPrecondition, match="active endpoints"):
        networks.Remove(pb.GetNetworkRequest(ref="it-mv"))
    for x in (a, b, c):
        networks.Detach(pb.DetachRequest(container_id=x))
    networks.Remove(pb.GetNetworkRequest(ref="it-mv"))
    assert link_exists(parent)  # the user's parent stays


def test_internal_macvlan_has_no_default_route(networks, parent):
    create(networks, "it-mvi", parent=parent, internal=True)
    ep = attach(networks, cid(), "it-mvi")
    assert ep.gateway == "" and port_of(ep.netns_path)[3] == []


def test_parentless_network_uses_a_dummy_where_the_kernel_has_them(stack, networks, parent):
    if not kernel_has("dummy", parent):
        with pytest.raises(Internal, match="^operation not supported$"):
            create(networks, "it-dm")
        assert [n.name for n in networks.List(types_pb2.Empty()).networks
                if n.name == "it-dm"] == []
        return
    net = create(networks, "it-dm")
    dummy = "dm-" + net.id[:12]
    assert link_exists(dummy)
    networks.Remove(pb.GetNetworkRequest(ref="it-dm"))
    assert not link_exists(dummy)
    net = create(networks, "it-dm2")  # teardown deletes the dummies it made
    stack.stop_service("network")
    run_teardown(stack)
    assert not link_exists("dm-" + net.id[:12])


def test_ipvlan_where_the_kernel_has_it(networks, parent):
    create(networks, "it-iv", driver="ipvlan", parent=parent)
    a, b = cid(), cid()
    if not kernel_has("ipvlan", parent):
        with pytest.raises(Internal, match="failed to create the ipvlan port: operation not "
                                           "supported"):
            attach(networks, a, "it-iv")
        assert list(networks.Endpoints(pb.EndpointsRequest(container_id=a)).endpoints) == []
        return
    ea, eb = attach(networks, a, "it-iv"), attach(networks, b, "it-iv")
    assert ea.mac_address == "" and port_of(ea.netns_path)[0] == "ipvlan"
    assert ping(ea.netns_path, eb.ip_address)
