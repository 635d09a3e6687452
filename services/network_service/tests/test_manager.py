import os
import threading

import pytest

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from dockyard_networks.manager import NetworkManager

C1 = "a" * 64
C2 = "b" * 64


def test_predefined_networks(manager, links):
    names = {n["name"]: n for n, _ in manager.list()}
    assert {"bridge", "host", "none"} <= set(names)
    br = names["bridge"]
    assert br["driver"] == "bridge" and br["subnet"] == "10.213.0.0/16"
    assert br["gateway"] == "10.213.0.1" and br["bridge_name"] == "dyu0"
    assert br["options"]["com.docker.network.bridge.default_bridge"] == "true"
    assert br["options"]["com.docker.network.bridge.name"] == "dyu0"
    assert names["none"]["driver"] == "null" and names["host"]["driver"] == "host"
    assert len(br["id"]) == 64
    assert links.links["dyu0"]["addr"] == "10.213.0.1/16"


def test_predefined_are_stable_across_restart(cfg, links, host_files, manager):
    before = manager.get("bridge")[0]["id"]
    again = NetworkManager(cfg, links, host_files=host_files)
    again.reconcile()
    assert again.get("bridge")[0]["id"] == before


def test_lookup_by_id_prefix_and_name(manager):
    net, _ = manager.create("mynet")
    assert manager.get("mynet")[0]["id"] == net["id"]
    assert manager.get(net["id"])[0]["name"] == "mynet"
    assert manager.get(net["id"][:5])[0]["name"] == "mynet"
    with pytest.raises(NotFound, match="network nope not found"):
        manager.get("nope")


def test_ambiguous_prefix(manager):
    for n in ("1", "2"):
        manager.store.add_network(id="abc" + n * 61, name="amb" + n, driver="bridge",
                                  created="2024-01-01T00:00:00Z")
    with pytest.raises(InvalidArgument, match="ambiguous"):
        manager.get("abc")
    assert manager.get("abc1")[0]["name"] == "amb1"
    with pytest.raises(NotFound):
        manager.get("")


def test_create_allocates_from_pool(manager, links):
    a, _ = manager.create("a", labels={"x": "1"})
    b, _ = manager.create("b")
    assert a["subnet"] == "10.214.0.0/24" and a["gateway"] == "10.214.0.1"
    assert b["subnet"] == "10.214.1.0/24"
    assert a["bridge_name"] == "br-" + a["id"][:12]
    assert links.links[a["bridge_name"]]["addr"] == "10.214.0.1/24"
    assert a["labels"] == {"x": "1"}


def test_create_skips_host_routes(cfg, host_files):
    from conftest import FakeLinks
    import ipaddress
    os.makedirs(cfg.netns_dir, exist_ok=True)
    m = NetworkManager(cfg, FakeLinks(routes=[ipaddress.ip_network("10.214.0.0/23")]),
                       host_files=host_files)
    m.reconcile()
    assert m.create("r")[0]["subnet"] == "10.214.2.0/24"


def test_create_custom_subnet_gateway_and_errors(manager):
    net, _ = manager.create("c", ipam_configs=[{"subnet": "10.215.3.0/24",
                                                "gateway": "10.215.3.254"}],
                            options={"com.docker.network.bridge.name": "dyc0"}, internal=True)
    assert (net["subnet"], net["gateway"], net["bridge_name"]) == ("10.215.3.0/24", "10.215.3.254",
                                                                   "dyc0")
    assert net["internal"] == 1
    with pytest.raises(Conflict, match="network with name c already exists"):
        manager.create("c")
    with pytest.raises(Conflict, match="overlaps"):
        manager.create("d", ipam_configs=[{"subnet": "10.215.3.128/25"}])
    with pytest.raises(Conflict, match="overlaps"):
        manager.create("e", ipam_configs=[{"subnet": "10.213.7.0/24"}])  # the default bridge
    with pytest.raises(InvalidArgument, match="gateway"):
        manager.create("f", ipam_configs=[{"subnet": "10.216.0.0/24", "gateway": "10.217.0.1"}])
    with pytest.raises(NotFound, match='plugin "overlay" not found'):
        manager.create("g", driver="overlay")
    with pytest.raises(FailedPrecondition):
        manager.create("h", driver="host")
    with pytest.raises(InvalidArgument):
        manager.create("bad name")


def test_attach_default_bridge(manager, links, cfg):
    ep = manager.attach(C1, "bridge", hostname="", extra_hosts=["db.internal:10.1.2.3"],
                        container_name="web")
    assert ep["ip"] == "10.213.0.2" and ep["prefix_len"] == 16 and ep["gateway"] == "10.213.0.1"
    assert ep["mac"] == "02:42:0a:d5:00:02" and ep["interface"] == "eth0"
    assert ep["netns_path"] == os.path.join(cfg.netns_dir, "dy-" + C1[:12])
    assert ep["network_name"] == "bridge" and ep["container_name"] == "web"
    assert links.links[ep["host_veth"]]["gateway"] == "10.213.0.1"
    hosts = open(ep["hosts_path"]).read()
    assert "10.1.2.3\tdb.internal" in hosts and "10.213.0.2\t" + C1[:12] in hosts
    assert open(ep["hostname_path"]).read() == C1[:12] + "\n"
    resolv = open(ep["resolv_conf_path"]).read()
    assert "127.0.0.53" not in resolv and "nameserver 10.255.255.53" in resolv
    ep2 = manager.attach(C2, "bridge", hostname="two")
    assert ep2["ip"] == "10.213.0.3"
    assert open(ep2["hostname_path"]).read() == "two\n"


def test_attach_missing_network_and_requested_ip_on_default(manager):
    with pytest.raises(NotFound, match="network ghost not found"):
        manager.attach(C1, "ghost")
    with pytest.raises(InvalidArgument, match="user defined networks only"):
        manager.attach(C1, "bridge", ipv4_address="10.213.0.9")
    assert manager.endpoints(C1) == []
    assert manager.store.sandbox(C1) is None


def test_user_network_static_ip_and_second_interface(manager, links):
    net, _ = manager.create("u", ipam_configs=[{"subnet": "10.215.9.0/24"}])
    manager.attach(C1, "bridge")
    ep = manager.attach(C1, "u", ipv4_address="10.215.9.50", aliases=["al"])
    assert ep["ip"] == "10.215.9.50" and ep["interface"] == "eth1" and ep["aliases"] == ["al"]
    assert links.links[ep["host_veth"]]["gateway"] is None  # default route stays on eth0
    with pytest.raises(Conflict, match="Address already in use"):
        manager.attach(C2, "u", ipv4_address="10.215.9.50")
    with pytest.raises(InvalidArgument, match="no configured subnet"):
        manager.attach(C2, "u", ipv4_address="10.9.9.9")
    with pytest.raises(Conflict, match="already exists in network u"):
        manager.attach(C1, "u")
    hosts = open(ep["hosts_path"]).read()
    assert "10.213.0.2\t" in hosts and "10.215.9.50\t" in hosts
    assert [e["network_name"] for e in manager.endpoints(C1)] == ["bridge", "u"]


def test_user_network_resolv_conf_uses_embedded_dns(manager):
    manager.create("u")
    ep = manager.attach(C1, "u")
    assert "nameserver 127.0.0.11" in open(ep["resolv_conf_path"]).read().splitlines()


def test_none_network(manager, links):
    ep = manager.attach(C1, "none")
    assert ep["ip"] is None or ep["ip"] == ""
    assert ep["interface"] in (None, "")
    assert ep["netns_path"] in links.sandboxes
    assert not any(l["kind"] == "veth" for l in links.links.values())
    with pytest.raises(FailedPrecondition, match="private"):
        manager.attach(C1, "bridge")


def test_host_network(manager, links):
    ep = manager.attach(C1, "host", extra_hosts=["x:1.2.3.4"])
    assert ep["netns_path"] == ""
    assert open(ep["hostname_path"]).read() == "myhost\n"
    hosts = open(ep["hosts_path"]).read()
    assert "192.0.2.2 myhost" in hosts and "1.2.3.4\tx" in hosts
    assert "127.0.0.53" in open(ep["resolv_conf_path"]).read()
    assert not links.sandboxes
    with pytest.raises(FailedPrecondition, match="host network"):
        manager.attach(C1, "bridge")
    manager.detach(C1, "")
    assert manager.endpoints(C1) == [] and not os.path.exists(os.path.dirname(ep["hosts_path"]))


def test_detach_one_then_all(manager, links):
    manager.create("u")
    e0 = manager.attach(C1, "bridge")
    e1 = manager.attach(C1, "u")
    manager.detach(C1, "bridge")
    assert e0["host_veth"] not in links.links
    assert links.links[e1["host_veth"]]["gateway"] == e1["gateway"]  # default route moved
    with pytest.raises(NotFound, match="container %s is not connected to network bridge" % C1):
        manager.detach(C1, "bridge")
    assert "10.213.0.2" not in open(e1["hosts_path"]).read()
    manager.detach(C1, "")
    manager.detach(C1, "")
    assert not links.sandboxes and manager.endpoints(C1) == []
    assert not any(l["kind"] == "veth" for l in links.links.values())
    assert not os.path.exists(os.path.dirname(e1["hosts_path"]))
    assert manager.attach(C2, "bridge")["ip"] == "10.213.0.2"  # address released


def test_remove_and_prune(manager, links):
    net, _ = manager.create("busy", labels={"p": "1"})
    manager.create("idle", labels={"p": "1"})
    manager.create("other")
    manager.attach(C1, "busy")
    with pytest.raises(FailedPrecondition, match="has active endpoints"):
        manager.remove("busy")
    with pytest.raises(FailedPrecondition, match="bridge is a pre-defined network"):
        manager.remove("bridge")
    assert manager.prune({"p": "1"}) == ["idle"]
    assert manager.prune({"p": "2"}) == []
    manager.detach(C1, "")
    manager.remove(net["id"][:10])
    assert net["bridge_name"] not in links.links
    assert manager.prune() == ["other"]
    assert {n["name"] for n, _ in manager.list()} == {"bridge", "host", "none"}


def test_concurrent_attaches_get_distinct_ips(manager):
    results, errors = [], []

    def go(i):
        try:
            results.append(manager.attach("%012x" % (i + 1) + "0" * 52, "bridge")["ip"])
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 20


def test_reconcile_drops_endpoints_of_vanished_netns(cfg, links, host_files, manager):
    e1 = manager.attach(C1, "bridge")
    e2 = manager.attach(C2, "bridge")
    links.remove_sandbox(e1["netns_path"])  # e.g. the host rebooted / someone deleted it
    del links.links["dyu0"]
    again = NetworkManager(cfg, links, host_files=host_files)
    again.reconcile()
    assert "dyu0" in links.links
    assert again.endpoints(C1) == []
    assert e1["host_veth"] not in links.links
    assert [e["ip"] for e in again.endpoints(C2)] == [e2["ip"]]
