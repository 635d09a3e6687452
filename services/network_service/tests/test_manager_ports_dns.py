"""Published ports and embedded-DNS bookkeeping in the manager (fake kernel, fake DNS)."""

import os

import pytest

from dockyard_common.errors import Conflict, InvalidArgument
from dockyard_networks.manager import NetworkManager
from dockyard_networks.portmap import PortAllocator

C1, C2, C3 = "a" * 64, "b" * 64, "c" * 64


class FakeDns:
    def __init__(self):
        self.records = None
        self.wanted = {}
        self.forgotten = []

    def update(self, records, wanted):
        self.records, self.wanted = records, dict(wanted)

    def forget(self, cid):
        self.forgotten.append(cid)
        self.wanted.pop(cid, None)


def bind(host_port, container_port, host_ip="", protocol="tcp"):
    return {"host_ip": host_ip, "host_port": host_port, "container_port": container_port,
            "protocol": protocol}


def test_publish_ports_are_returned_persisted_and_released(manager, binder):
    ep = manager.attach(C1, "bridge", container_name="web",
                        port_bindings=[bind(8080, 80, "127.0.0.1"), bind(0, 53, protocol="udp")])
    assert ep["port_bindings"] == [
        {"protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 8080, "container_port": 80},
        {"protocol": "udp", "host_ip": "0.0.0.0", "host_port": 49153, "container_port": 53}]
    assert binder.held == {("tcp", "127.0.0.1", 8080), ("udp", "0.0.0.0", 49153)}
    assert manager.endpoints(C1)[0]["port_bindings"] == ep["port_bindings"]
    with pytest.raises(Conflict, match=r"driver failed programming external connectivity on "
                       r"endpoint db \([0-9a-f]{64}\): Bind for 0.0.0.0:8080 failed: port is "
                       r"already allocated"):
        manager.attach(C2, "bridge", container_name="db", port_bindings=[bind(8080, 80)])
    assert manager.store.sandbox(C2) is None  # nothing left of the failed attach
    manager.detach(C1, "")
    assert binder.held == set() and manager.store.ports() == []
    assert manager.attach(C2, "bridge", port_bindings=[bind(8080, 80)])["port_bindings"][0][
        "host_port"] == 8080


def test_bad_binding_is_invalid_argument(manager):
    with pytest.raises(InvalidArgument):
        manager.attach(C1, "bridge", port_bindings=[bind(8080, 0)])
    assert manager.store.sandbox(C1) is None


def test_ports_ignored_on_host_none_and_internal(manager, binder):
    manager.create("int", internal=True)
    assert manager.attach(C1, "none", port_bindings=[bind(1, 2)])["port_bindings"] == []
    assert manager.attach(C2, "host", port_bindings=[bind(1, 2)])["port_bindings"] == []
    assert manager.attach(C3, "int", port_bindings=[bind(1, 2)])["port_bindings"] == []
    assert binder.held == set()


def test_reservations_are_taken_again_after_restart(cfg, links, host_files, manager, binder):
    manager.attach(C1, "bridge", port_bindings=[bind(8080, 80)])
    manager.ports.release_all()  # the old process is gone
    assert binder.held == set()
    again = NetworkManager(cfg, links, host_files=host_files,
                           ports=PortAllocator(bind=binder, ephemeral=(49153, 49160)))
    again.reconcile()
    assert binder.held == {("tcp", "0.0.0.0", 8080)}
    assert again.endpoints(C1)[0]["port_bindings"][0]["host_port"] == 8080


def test_detach_one_network_keeps_other_ports(manager, binder):
    manager.create("u")
    manager.attach(C1, "bridge", port_bindings=[bind(8080, 80)])
    manager.attach(C1, "u", port_bindings=[bind(8081, 80)])
    manager.detach(C1, "u")
    assert binder.held == {("tcp", "0.0.0.0", 8080)}


@pytest.fixture
def dns_manager(cfg, links, host_files, ports):
    os.makedirs(cfg.netns_dir, exist_ok=True)
    dns = FakeDns()
    m = NetworkManager(cfg, links, host_files=host_files, ports=ports, dns=dns)
    m.reconcile()
    yield m, dns
    m.store.close()


def test_dns_follows_connect_and_disconnect(dns_manager):
    m, dns = dns_manager
    m.create("app")
    e1 = m.attach(C1, "app", container_name="/web", aliases=["www"])
    assert e1["dns_names"] == ["web", C1[:12], "www"]
    m.attach(C2, "bridge", container_name="client")
    assert m.endpoints(C2)[0]["dns_names"] == []   # the default bridge has no DNS
    assert set(dns.wanted) == {C1}
    resolv2 = m.endpoints(C2)[0]["resolv_conf_path"]
    assert "127.0.0.11" not in open(resolv2).read()
    m.attach(C2, "app")                           # network connect
    assert set(dns.wanted) == {C1, C2}
    assert dns.records.lookup(C2, "web") == [e1["ip"]]
    assert open(resolv2).read() == ("search example.test\nnameserver 127.0.0.11\n"
                                    "options edns0 ndots:0\n")
    m.detach(C1, "app")                           # network disconnect
    assert dns.records.lookup(C2, "web") is None and set(dns.wanted) == {C2}
    m.detach(C2, "")
    assert C2 in dns.forgotten and dns.wanted == {}


def test_dns_sockets_recreated_on_restart(cfg, links, host_files, ports, dns_manager):
    m, _ = dns_manager
    m.create("app")
    m.attach(C1, "app", container_name="web")
    dns = FakeDns()
    again = NetworkManager(cfg, links, host_files=host_files, ports=ports, dns=dns)
    again.reconcile()
    assert dns.wanted == {C1: cfg.netns_path(C1)}
    assert dns.records.lookup(C1, "web")
