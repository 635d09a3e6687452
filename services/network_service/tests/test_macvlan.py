"""macvlan and ipvlan networks through the manager, with fake kernel links."""

import errno
import os

import pytest

from dockyard_common.errors import FailedPrecondition, Internal, InvalidArgument, NotFound
from dockyard_networks import dnsrecords, teardown
from dockyard_networks.macvlan import VlanDriver
from dockyard_networks.manager import NetworkManager

C1 = "a" * 64
C2 = "b" * 64


class FakeVlanLinks:
    """Parents and ports in the FakeLinks' map (so a removed sandbox takes its ports along).
    `unsupported`: link kinds the "kernel" lacks (this CI kernel has no dummy/ipvlan/vlan)."""

    def __init__(self, links, unsupported=()):
        self.links = links.links
        self.unsupported = set(unsupported)
        self.counter = 0

    def link_exists(self, name):
        return name in self.links

    def _check(self, kind):
        if kind in self.unsupported:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    def add_dummy(self, name):
        self._check("dummy")
        self.links[name] = {"kind": "dummy"}

    def add_vlan(self, name, master, vlan_id):
        self._check("vlan")
        self.links[name] = {"kind": "vlan", "master": master, "vlan_id": vlan_id}

    def delete_link(self, name):
        return self.links.pop(name, None) is not None

    def add_port(self, kind, parent, mode, netns_path, ifname, mac, address, prefixlen,
                 gateway=None, dev_route=False, v6=None):
        self._check(kind)
        self.counter += 1
        self.links["port%d" % self.counter] = {
            "kind": kind, "parent": parent, "mode": mode, "netns": netns_path,
            "ifname": ifname, "mac": mac, "addr": "%s/%d" % (address, prefixlen),
            "gateway": str(gateway) if gateway else None, "dev_route": dev_route,
            "v6": v6}

    def ports(self):
        return {i["ifname"] + "@" + i["netns"]: i for i in self.links.values()
                if i["kind"] in ("macvlan", "ipvlan")}


@pytest.fixture
def vlinks(links):
    links.links["hostp0"] = {"kind": "veth"}  # the user's own parent
    return FakeVlanLinks(links)


@pytest.fixture
def vm(cfg, links, host_files, ports, vlinks):
    os.makedirs(cfg.netns_dir, exist_ok=True)
    m = NetworkManager(cfg, links, host_files=host_files, ports=ports,
                       vlan=VlanDriver(vlinks))
    m.reconcile()
    yield m
    m.store.close()


def mv(m, name="mv", parent="hostp0", driver="macvlan", **kw):
    opts = dict(kw.pop("options", {}))
    if parent:
        opts["parent"] = parent
    return m.create(name, driver=driver, options=opts,
                    ipam_configs=kw.pop("ipam", [{"subnet": "10.77.0.0/24",
                                                  "gateway": "10.77.0.1"}]), **kw)[0]


def test_create_on_given_parent(vm, links):
    net = mv(vm)
    assert net["driver"] == "macvlan" and net["options"] == {"parent": "hostp0"}
    assert net["parent"] == "hostp0" and net["parent_link"] == "" and net["bridge_name"] == ""
    assert (net["subnet"], net["gateway"]) == ("10.77.0.0/24", "10.77.0.1")
    vm.remove("mv")
    assert "hostp0" in links.links  # the user's parent stays


def test_no_parent_makes_a_dummy_removed_with_the_network(vm, links):
    net = mv(vm, parent="")
    dummy = "dm-" + net["id"][:12]
    assert links.links[dummy]["kind"] == "dummy"
    assert net["options"] == {} and net["parent"] == dummy and net["parent_link"] == "dummy"
    ip = mv(vm, "iv", parent="", driver="ipvlan", ipam=[{"subnet": "10.78.0.0/24"}])
    assert links.links["di-" + ip["id"][:12]]["kind"] == "dummy"
    vm.remove("mv")
    assert dummy not in links.links


def test_no_parent_on_a_kernel_without_dummy_links(vm, links, vlinks):
    vlinks.unsupported.add("dummy")
    with pytest.raises(Internal, match="^operation not supported$"):
        mv(vm, parent="")
    with pytest.raises(NotFound):
        vm.get("mv")


def test_internal_with_a_missing_parent_makes_a_dummy_of_that_name(vm, links):
    net = mv(vm, parent="mine0", internal=True)
    assert links.links["mine0"]["kind"] == "dummy" and net["parent_link"] == "dummy"
    vm.remove("mv")
    assert "mine0" not in links.links


def test_parent_errors(vm, links, vlinks):
    with pytest.raises(InvalidArgument, match="invalid subinterface vlan name nosuch0, example "
                                       "formatting is eth0.10"):
        mv(vm, parent="nosuch0")
    with pytest.raises(InvalidArgument, match="-o parent interface does was not found on the host: "
                                       "nosuch"):
        mv(vm, parent="nosuch.10")
    with pytest.raises(InvalidArgument, match="vlan id must be between 1-4094, received: 5000"):
        mv(vm, parent="hostp0.5000")
    vlinks.unsupported.add("vlan")
    with pytest.raises(Internal, match="failed to create hostp0.7 vlan link: operation not "
                                       "supported"):
        mv(vm, parent="hostp0.7")
    assert [n["name"] for n, _ in vm.list()] == ["bridge", "host", "none"]


def test_vlan_parent_is_made_and_removed(vm, links):
    net = mv(vm, parent="hostp0.10")
    assert links.links["hostp0.10"] == {"kind": "vlan", "master": "hostp0", "vlan_id": 10}
    assert net["parent_link"] == "vlan"
    vm.remove("mv")
    assert "hostp0.10" not in links.links and "hostp0" in links.links


def test_modes(vm):
    with pytest.raises(InvalidArgument, match="requested macvlan mode 'foo' is not valid, 'bridge' "
                                       "mode is the macvlan driver default"):
        mv(vm, options={"macvlan_mode": "foo"})
    with pytest.raises(InvalidArgument, match="requested ipvlan mode 'l3s' is not valid, 'l2' mode "
                                       "is the ipvlan driver default"):
        mv(vm, driver="ipvlan", options={"ipvlan_mode": "l3s"})
    net = mv(vm, options={"macvlan_mode": "private"})
    assert net["options"] == {"macvlan_mode": "private", "parent": "hostp0"}


def test_one_network_per_parent_and_driver(vm):
    first = mv(vm)
    with pytest.raises(FailedPrecondition, match="network dm-%s is already using parent interface "
                                       "hostp0" % first["id"][:12]):
        mv(vm, "mv2", ipam=[{"subnet": "10.79.0.0/24"}])
    # the check is per driver (as Docker)
    mv(vm, "iv", driver="ipvlan", ipam=[{"subnet": "10.79.0.0/24"}])


def test_unknown_driver_is_a_missing_plugin(vm):
    with pytest.raises(NotFound, match='plugin "foo" not found'):
        vm.create("x", driver="foo")


def test_endpoints_get_ports_in_their_netns(vm, vlinks):
    mv(vm)
    a = vm.attach(C1, "mv", container_name="/one")
    b = vm.attach(C2, "mv", container_name="/two", port_bindings=[
        {"container_port": 80, "protocol": "tcp", "host_ip": "", "host_port": 8080}])
    ports = vlinks.ports()
    pa = ports["eth0@" + a["netns_path"]]
    assert (pa["kind"], pa["parent"], pa["mode"]) == ("macvlan", "hostp0", "bridge")
    assert pa["addr"] == "10.77.0.2/24" and pa["gateway"] == "10.77.0.1"
    assert pa["mac"] == a["mac"] == "02:42:0a:4d:00:02"
    assert (a["ip"], a["gateway"], a["interface"]) == ("10.77.0.2", "10.77.0.1", "eth0")
    # -p is accepted and ignored: no NAT, nothing published
    assert b["ip"] == "10.77.0.3" and b["port_bindings"] == [] and vm.store.ports() == []
    assert a["dns_names"] == ["one", C1[:12]]
    net, eps = vm.get("mv")
    assert {e["container_id"] for e in eps} == {C1, C2}
    with pytest.raises(FailedPrecondition, match="active endpoints"):
        vm.remove("mv")


def test_embedded_dns_answers_names_on_macvlan(vm):
    mv(vm)
    vm.attach(C1, "mv", container_name="/one")
    vm.attach(C2, "mv", container_name="/two")
    records = dnsrecords.build(vm.store.networks(), vm.store.endpoints(),
                               vm.store.sandboxes(), [])
    assert records.views  # both sandboxes are served by the embedded DNS
    resolv = open(os.path.join(vm.store.sandbox(C1)["files_dir"], "resolv.conf")).read()
    assert "nameserver 127.0.0.11" in resolv


def test_connect_disconnect_second_interface(vm, vlinks):
    mv(vm)
    first = vm.attach(C1, "bridge", container_name="/one")
    second = vm.attach(C1, "mv")
    assert (first["interface"], second["interface"]) == ("eth0", "eth1")
    port = vlinks.ports()["eth1@" + second["netns_path"]]
    assert port["gateway"] is None and second["default_route"] == 0  # the bridge keeps it
    vm.detach(C1, "mv")
    assert "eth1@" + second["netns_path"] not in vlinks.ports()
    assert vm.store.allocated(vm.get("mv")[0]["id"]) == set()
    vm.detach(C1)
    assert vlinks.ports() == {}


def test_parentless_and_internal_networks_get_no_gateway(vm, vlinks):
    mv(vm, parent="")
    ep = vm.attach(C1, "mv")
    assert ep["gateway"] == "" and ep["default_route"] == 0
    assert vlinks.ports()["eth0@" + ep["netns_path"]]["gateway"] is None


def test_ipvlan_l2_and_l3(vm, vlinks):
    mv(vm, "l2", driver="ipvlan")
    ep = vm.attach(C1, "l2")
    port = vlinks.ports()["eth0@" + ep["netns_path"]]
    assert (port["kind"], port["mode"], port["mac"]) == ("ipvlan", "l2", None)
    assert ep["mac"] == "" and port["gateway"] == "10.77.0.1"
    vm.links.links["hostp1"] = {"kind": "veth"}
    mv(vm, "l3", driver="ipvlan", parent="hostp1", options={"ipvlan_mode": "l3"},
       ipam=[{"subnet": "10.78.0.0/24"}])
    ep3 = vm.attach(C2, "l3")
    port = vlinks.ports()["eth0@" + ep3["netns_path"]]
    assert port["dev_route"] is True and port["gateway"] is None
    assert ep3["gateway"] == "" and ep3["default_route"] == 1


def test_ipvlan_refuses_a_mac_and_reports_kernel_errors(vm, vlinks):
    mv(vm, driver="ipvlan")
    with pytest.raises(InvalidArgument, match="ipvlan interfaces do not support custom mac address"):
        vm.attach(C1, "mv", mac_address="02:42:0a:00:00:09")
    vlinks.unsupported.add("ipvlan")
    with pytest.raises(Internal, match="failed to create the ipvlan port: operation not "
                                       "supported"):
        vm.attach(C1, "mv")
    assert vm.store.sandbox(C1) is None  # the sandbox made for it is gone again


def test_restart_keeps_endpoints_and_remakes_our_parent(cfg, links, host_files, vm, vlinks):
    net = mv(vm, parent="")
    vm.attach(C1, "mv")
    dummy = net["parent"]
    del links.links[dummy]  # e.g. a host reboot
    vm.store.close()
    again = NetworkManager(cfg, links, host_files=host_files, vlan=VlanDriver(vlinks))
    again.reconcile()
    assert links.links[dummy]["kind"] == "dummy"
    assert [e["container_id"] for e in again.get("mv")[1]] == [C1]
    again.store.close()


def test_teardown_deletes_our_parents_only(cfg, links, vm, monkeypatch):
    monkeypatch.setattr(teardown, "_remove_chains", lambda cfg: None)  # not the host's chains
    ours = mv(vm, parent="")["parent"]
    mv(vm, "mine", ipam=[{"subnet": "10.79.0.0/24"}])
    vm.store.close()
    deleted = []

    class Recorder:
        def delete_link(self, name):
            deleted.append(name)

    teardown.teardown(cfg, links=Recorder())
    assert ours in deleted and "hostp0" not in deleted
