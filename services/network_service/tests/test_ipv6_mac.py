"""IPv6 on user-defined bridge networks and --mac-address, over the fake kernel."""

import os

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from dockyard_networks import dnsrecords, ipam
from dockyard_networks.firewall import Firewall, Firewall6
from dockyard_networks.server import endpoint_pb, network_pb

C1, C2, C3 = "a" * 64, "b" * 64, "c" * 64
V6 = {"subnet": "fd00:dead:beef::/64"}


def v6net(manager, name="v6", configs=(V6,), enable=True):
    return manager.create(name, ipam_configs=list(configs), enable_ipv6=enable)[0]


# ------------------------------------------------------------------ networks
def test_ipv6_network_gets_an_ipv4_subnet_and_its_ipv6_gateway_on_the_bridge(manager, links):
    net = v6net(manager)
    assert net["enable_ipv6"] == 1 and net["subnet6"] == "fd00:dead:beef::/64"
    assert net["gateway6"] == "fd00:dead:beef::1" and not net["gateway6_given"]
    assert net["subnet"] == "10.214.0.0/24"  # IPv4 from the pool, as Docker
    assert links.links[net["bridge_name"]]["addr6"] == "fd00:dead:beef::1/64"
    pb = network_pb(net, [], manager)
    assert pb.enable_ipv6
    # the IPv4 entry first; the IPv6 gateway only shown when given (as Docker)
    assert [(c.subnet, c.gateway) for c in pb.ipam] == [("10.214.0.0/24", "10.214.0.1"),
                                                       ("fd00:dead:beef::/64", "")]


def test_ipv6_with_ipv4_subnet_gateway_and_range(manager):
    net = v6net(manager, configs=(
        {"subnet": "fd00:2::/64", "gateway": "fd00:2::fe", "ip_range": "fd00:2::100/120"},
        {"subnet": "10.99.0.0/24"}))
    assert (net["subnet"], net["subnet6"], net["gateway6"], net["ip_range6"]) == (
        "10.99.0.0/24", "fd00:2::/64", "fd00:2::fe", "fd00:2::100/120")
    pb = network_pb(net, [], manager)
    assert (pb.ipam[1].gateway, pb.ipam[1].ip_range) == ("fd00:2::fe", "fd00:2::100/120")
    ep = manager.attach(C1, "v6")
    assert ep["ip6"] == "fd00:2::101"  # inside the range (its first address is not handed out)


def test_ipv6_network_errors_are_dockers(manager):
    with pytest.raises(NotFound, match="could not find an available, non-overlapping IPv6 "
                                       "address pool among the defaults"):
        manager.create("noipv6subnet", enable_ipv6=True)
    v6net(manager)
    with pytest.raises(Conflict, match="Pool overlaps with other one on this address space"):
        v6net(manager, "overlap", configs=({"subnet": "fd00:dead:beef::/80"},))
    with pytest.raises(FailedPrecondition, match="bridge driver doesn't support multiple subnets"):
        v6net(manager, "two", configs=({"subnet": "fd00:3::/64"}, {"subnet": "fd00:4::/64"}))
    with pytest.raises(InvalidArgument, match="no matching subnet for gateway fd00:6::1"):
        v6net(manager, "gw", configs=({"subnet": "fd00:5::/64", "gateway": "fd00:6::1"},))
    with pytest.raises(InvalidArgument, match="it should be fd00:1::/64"):
        v6net(manager, "bits", configs=({"subnet": "fd00:1::5/64"},))
    assert [n["name"] for n, _ in manager.list()].count("v6") == 1
    assert {n["name"] for n, _ in manager.list()} == {"bridge", "host", "none", "v6"}


def test_ipv6_subnet_without_the_flag_gives_no_addresses(manager, links):
    net = v6net(manager, "noflag", enable=False)
    assert "addr6" not in links.links[net["bridge_name"]]
    assert network_pb(net, [], manager).ipam[1].subnet == "fd00:dead:beef::/64"
    ep = manager.attach(C1, "noflag", ipv6_address="fd00:dead:beef::5")  # ignored, as 20.10
    assert ep["ip"] and not ep["ip6"]


# ------------------------------------------------------------------ endpoints
def test_endpoints_get_ipv6_addresses_routes_hosts_and_views(manager, links):
    v6net(manager)
    e1 = manager.attach(C1, "v6", container_name="one")
    e2 = manager.attach(C2, "v6", container_name="two", ipv6_address="fd00:dead:beef::99")
    assert (e1["ip6"], e1["prefix_len6"], e1["gateway6"]) == (
        "fd00:dead:beef::2", 64, "fd00:dead:beef::1")
    assert e2["ip6"] == "fd00:dead:beef::99"
    veth = links.links[e1["host_veth"]]
    assert veth["addr6"] == "fd00:dead:beef::2/64" and veth["gateway6"] == "fd00:dead:beef::1"
    hosts = open(e1["hosts_path"]).read()
    assert hosts.endswith("%s\t%s\nfd00:dead:beef::2\t%s\n" % (e1["ip"], C1[:12], C1[:12]))
    pb = endpoint_pb(e2)
    assert (pb.ipv6_address, pb.ipv6_prefix_len, pb.ipv6_gateway) == (
        "fd00:dead:beef::99", 64, "fd00:dead:beef::1")
    # a freed address is handed out again
    manager.detach(C1, "")
    assert manager.attach(C3, "v6")["ip6"] == "fd00:dead:beef::2"


@pytest.mark.parametrize("address, error, message", [
    ("fd00:1234::5", InvalidArgument, "no configured subnet or ip-range contain the IP address"),
    ("fd00:dead:beef::1", Conflict, "Address already in use"),
    ("fd00:dead:beef::", Conflict, "Address already in use"),
    ("zz", InvalidArgument, "invalid IPv6 address: zz"),
    ("10.1.1.1", InvalidArgument, "invalid IPv6 address: 10.1.1.1"),
])
def test_requested_ipv6_address_errors(manager, links, address, error, message):
    v6net(manager)
    with pytest.raises(error, match=message):
        manager.attach(C1, "v6", ipv6_address=address)
    assert manager.store.sandbox(C1) is None and not links.sandboxes


def test_requested_ipv6_address_in_use_and_on_predefined_networks(manager):
    v6net(manager)
    manager.attach(C1, "v6", ipv6_address="fd00:dead:beef::7")
    with pytest.raises(Conflict, match="Address already in use"):
        manager.attach(C2, "v6", ipv6_address="fd00:dead:beef::7")
    with pytest.raises(InvalidArgument, match="supported on user defined networks only"):
        manager.attach(C3, "bridge", ipv6_address="fd00::5")


def test_default_bridge_stays_ipv4_only(manager, links):
    ep = manager.attach(C1, "bridge")
    assert ep["ip"] and not ep["ip6"] and "addr6" not in links.links[ep["host_veth"]]
    assert "addr6" not in links.links["dyu0"]


def test_default_route_moves_with_its_ipv6_gateway(manager, links):
    v6net(manager)
    manager.create("plain")
    manager.attach(C1, "plain")
    ep = manager.attach(C1, "v6")
    assert links.links[ep["host_veth"]]["gateway6"] is None  # the first network routes
    manager.detach(C1, "plain")
    assert links.links[ep["host_veth"]]["gateway6"] == "fd00:dead:beef::1"


# ------------------------------------------------------------------ embedded DNS
def ask(records, cid, name, qtype):
    return DNSRecord.parse(dnsrecords.answer(records, cid, DNSRecord.question(name, qtype).pack()))


def test_dns_answers_aaaa_and_ipv6_ptr(manager):
    v6net(manager)
    e1 = manager.attach(C1, "v6", container_name="one", aliases=["web"])
    manager.attach(C2, "v6", container_name="two")
    rec = dnsrecords.build(manager.store.networks(), manager.store.endpoints(),
                           manager.store.sandboxes())
    r = ask(rec, C2, "one", "AAAA")
    assert [(QTYPE[x.rtype], str(x.rdata)) for x in r.rr] == [("AAAA", "fd00:dead:beef::2")]
    assert [str(x.rdata) for x in ask(rec, C2, "web.v6", "AAAA").rr] == ["fd00:dead:beef::2"]
    assert [str(x.rdata) for x in ask(rec, C2, "one", "A").rr] == [e1["ip"]]
    assert sorted(QTYPE[x.rtype] for x in ask(rec, C2, "one", "ANY").rr) == ["A", "AAAA"]
    ptr = ask(rec, C2, "2.0.0.0" + ".0.0.0.0" * 4 + ".f.e.e.b.d.a.e.d.0.0.d.f.ip6.arpa", "PTR")
    assert [str(x.rdata) for x in ptr.rr] == ["one.v6."]


def test_aaaa_of_an_ipv4_only_name_is_empty(manager):
    manager.create("plain")
    manager.attach(C1, "plain", container_name="one")
    manager.attach(C2, "plain", container_name="two")
    rec = dnsrecords.build(manager.store.networks(), manager.store.endpoints(),
                           manager.store.sandboxes())
    r = ask(rec, C2, "one", "AAAA")
    assert r.header.rcode == RCODE.NOERROR and not r.rr


# ------------------------------------------------------------------ MAC addresses
@pytest.mark.parametrize("given, mac", [("02:42:AC:11:00:99", "02:42:ac:11:00:99"),
                                        ("02-42-ac-11-00-98", "02:42:ac:11:00:98"),
                                        ("0242.ac11.0097", "02:42:ac:11:00:97")])
def test_mac_address_is_used_on_bridge_networks(manager, links, given, mac):
    ep = manager.attach(C1, "bridge", mac_address=given)
    assert ep["mac"] == mac and links.links[ep["host_veth"]]["mac"] == mac
    assert endpoint_pb(ep).mac_address == mac


def test_mac_address_default_and_errors(manager, links):
    assert manager.attach(C1, "bridge")["mac"] == ipam.mac_for(
        ipam.parse_address(manager.endpoints(C1)[0]["ip"]))
    for bad in ("zz:42", "02:42:ac:11:00", "02:42:ac:11:00:99:aa", "02:42-ac:11:00:99"):
        with pytest.raises(InvalidArgument, match="invalid endpoint settings:\ninvalid MAC "
                                                  "address " + bad):
            manager.attach(C2, "bridge", mac_address=bad)
    assert manager.store.sandbox(C2) is None
    assert manager.attach(C3, "none", mac_address="02:42:ac:11:00:99")["mac"] == ""


# ------------------------------------------------------------------ ip6tables
def test_ip6tables_chain_only_for_ipv6_bridges():
    fw = Firewall("DYX")
    calls = []
    fw._run = lambda *a, **kw: calls.append(("4",) + a) or _Done(a)
    fw.v6._run = lambda *a, **kw: calls.append(("6",) + a + (kw.get("stdin") or "",)) or _Done(a)
    nets = [{"bridge": "a0", "subnet": "10.1.0.0/24", "internal": 0},
            {"bridge": "b0", "subnet": "10.2.0.0/24", "internal": 0, "subnet6": "fd00::/64"},
            {"bridge": "c0", "subnet": "10.3.0.0/24", "internal": 1, "subnet6": "fd01::/64"}]
    fw.sync(nets)
    restore = [c for c in calls if c[0] == "6" and c[1] == "ip6tables-restore"]
    text = restore[0][-1]
    assert "-A DYX-FORWARD -i b0 -o b0 -j ACCEPT" in text and "a0" not in text
    assert "-A DYX-FORWARD -i b0 -o c0 -j DROP" in text
    assert "-A DYX-FORWARD -i c0 ! -o c0 -j DROP" in text
    assert "*nat" not in text and text.count("COMMIT") == 1
    calls.clear()
    fw.sync(nets[:1])  # the last IPv6 network is gone: the chain goes too
    assert ("6", "-t", "filter", "-X", "DYX-FORWARD") in [c[:5] for c in calls]
    calls.clear()
    fw.sync(nets[:1])
    assert not [c for c in calls if c[0] == "6"]


def test_firewall6_render():
    text = Firewall6("DYY").render([{"bridge": "b0", "internal": 0, "subnet6": "fd00::/64"}])
    assert text.startswith("*filter\n:DYY-FORWARD - [0:0]\n")


class _Done:
    """A finished iptables run: -C and -D find nothing (no hook yet, nothing to delete)."""

    def __init__(self, args):
        self.returncode = 1 if "-C" in args or "-D" in args else 0
        self.stdout = self.stderr = ""


def test_store_migrates_an_older_network_db(cfg, tmp_path):
    import sqlite3
    from dockyard_networks.store import Store
    path = str(tmp_path / "old" / "network.db")
    os.makedirs(os.path.dirname(path))
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                      "driver TEXT NOT NULL, created TEXT NOT NULL);"
                      "CREATE TABLE endpoints (endpoint_id TEXT PRIMARY KEY, container_id TEXT, "
                      "network_id TEXT, created TEXT NOT NULL);"
                      "CREATE TABLE sandboxes (container_id TEXT PRIMARY KEY, "
                      "netns_path TEXT NOT NULL, files_dir TEXT NOT NULL);")
    con.close()
    s = Store(path)
    s.add_network(id="n", name="n", driver="bridge", created="x")
    assert s.network("n")["enable_ipv6"] == 0 and s.network("n")["subnet6"] == ""
    s.close()
