"""Ports published on IPv6 host addresses, in the manager: the [::] twin of a binding without
HostIp, proxied (fake proxy) to the container, left out of NAT, restored after a restart."""

import os

import pytest

from dockyard_common.errors import Conflict
from dockyard_networks.manager import NetworkManager
from dockyard_networks.portmap import PortAllocator

C1, C2 = "a" * 64, "b" * 64


class FakeProxy:
    def __init__(self):
        self.serving = {}

    def start(self, key, sock, protocol, target):
        self.serving[key] = target

    def stop(self, key):
        self.serving.pop(key, None)


class Recorder:
    def __init__(self):
        self.ports = []

    def sync(self, nets, ports=()):
        self.ports = list(ports)


def bind(host_port, container_port, host_ip="", protocol="tcp"):
    return {"host_ip": host_ip, "host_port": host_port, "container_port": container_port,
            "protocol": protocol}


def make(cfg, links, host_files, binder, proxy, fw=None):
    os.makedirs(cfg.netns_dir, exist_ok=True)
    ports = PortAllocator(bind=binder, ephemeral=(49153, 49160), proxy=proxy, ipv6=True)
    m = NetworkManager(cfg, links, host_files=host_files, ports=ports, firewall=fw)
    m.reconcile()
    return m


@pytest.fixture
def proxy():
    return FakeProxy()


@pytest.fixture
def v6m(cfg, links, host_files, binder, proxy):
    m = make(cfg, links, host_files, binder, proxy, fw=Recorder())
    yield m
    m.store.close()


def test_binding_without_host_ip_publishes_on_both_families(v6m, binder, proxy):
    ep = v6m.attach(C1, "bridge", container_name="web",
                    port_bindings=[bind(8080, 80), bind(0, 53, protocol="udp"),
                                   bind(8081, 81, "127.0.0.1"), bind(8082, 82, "::1")])
    assert [(b["protocol"], b["host_ip"], b["host_port"]) for b in ep["port_bindings"]] == [
        ("tcp", "0.0.0.0", 8080), ("tcp", "::", 8080), ("udp", "0.0.0.0", 49153),
        ("udp", "::", 49153), ("tcp", "127.0.0.1", 8081), ("tcp", "::1", 8082)]
    assert proxy.serving == {("tcp", "::", 8080): (ep["ip"], 80),
                             ("udp", "::", 49153): (ep["ip"], 53),
                             ("tcp", "::1", 8082): (ep["ip"], 82)}
    # NAT only for the IPv4 ones
    assert [(p["host_ip"], p["host_port"]) for p in v6m.firewall.ports] == [
        ("0.0.0.0", 8080), ("0.0.0.0", 49153), ("127.0.0.1", 8081)]
    v6m.detach(C1, "")
    assert proxy.serving == {} and binder.held == set() and v6m.firewall.ports == []


def test_ipv6_conflict_is_dockers_and_leaves_nothing(v6m, binder, proxy):
    v6m.attach(C1, "bridge", container_name="web", port_bindings=[bind(8080, 80, "::")])
    assert binder.held == {("tcp", "::", 8080)}
    with pytest.raises(Conflict, match=r"driver failed programming external connectivity on "
                       r"endpoint db \([0-9a-f]{64}\): Bind for :::8080 failed: port is "
                       r"already allocated"):
        v6m.attach(C2, "bridge", container_name="db", port_bindings=[bind(8080, 80)])
    assert v6m.store.sandbox(C2) is None
    assert binder.held == {("tcp", "::", 8080)} and list(proxy.serving) == [("tcp", "::", 8080)]
    # 0.0.0.0 alone is another port (as Docker)
    v6m.attach(C2, "bridge", port_bindings=[bind(8080, 80, "0.0.0.0")])


def test_container_with_ipv6_address_is_the_proxy_target(v6m, proxy):
    v6m.create("v6", ipam_configs=[{"subnet": "fd00:dead:beef::/64"}], enable_ipv6=True)
    ep = v6m.attach(C1, "v6", port_bindings=[bind(8080, 80)])
    assert ep["ip6"] and proxy.serving == {("tcp", "::", 8080): (ep["ip6"], 80)}


def test_proxies_are_restored_after_a_restart(cfg, links, host_files, binder, v6m):
    ep = v6m.attach(C1, "bridge", port_bindings=[bind(8080, 80)])
    v6m.ports.release_all()   # the old process is gone
    assert binder.held == set()
    proxy = FakeProxy()
    again = make(cfg, links, host_files, binder, proxy)
    assert binder.held == {("tcp", "0.0.0.0", 8080), ("tcp", "::", 8080)}
    assert proxy.serving == {("tcp", "::", 8080): (ep["ip"], 80)}
    again.detach(C1, "")
    assert proxy.serving == {} and binder.held == set()
    again.store.close()
