"""Ports published on IPv4 and IPv6 (Docker 20.10 with an IPv6 host: a binding without HostIp
is published on 0.0.0.0 and [::]): what inspect, `docker port` and `GET /containers/json`
show, as the real engine answers at API 1.41."""

import json

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.networks.v1 import networks_pb2

from dockyard_apiserver.backend import container_ports as ports
from dockyard_apiserver.backend import container_views as views


def pb(host_ip, host_port, container_port, protocol="tcp"):
    return networks_pb2.PortBinding(host_ip=host_ip, host_port=host_port,
                                    container_port=container_port, protocol=protocol)


# -p 18086:80 -p 18085:80/udp -p [::1]:18084:81 -p 127.0.0.1:18083:82, as the network
# service publishes them (each IPv6 twin right after its IPv4 binding)
PUBLISHED = [pb("0.0.0.0", 18085, 80, "udp"), pb("::", 18085, 80, "udp"),
             pb("0.0.0.0", 18086, 80), pb("::", 18086, 80), pb("::1", 18084, 81),
             pb("127.0.0.1", 18083, 82)]


def record():
    config = {"ExposedPorts": {"80/tcp": {}, "80/udp": {}, "81/tcp": {}, "82/tcp": {},
                               "443/tcp": {}}}
    net = {"mode": "bridge", "attached": True, "ports": ports.ports_from_endpoint(PUBLISHED)}
    return containers_pb2.Container(id="c" * 64, name="web", created="2024-01-01T00:00:00Z",
                                    config_json=json.dumps(config).encode(),
                                    network_json=json.dumps(net).encode())


def test_bindings_pass_ipv6_host_addresses_to_the_network_service():
    hc = {"PortBindings": {"80/tcp": [{"HostIp": "::", "HostPort": "8080"},
                                      {"HostIp": "::1", "HostPort": "8081"},
                                      {"HostPort": "8082"}]}}
    assert [(b["host_ip"], b["host_port"]) for b in ports.bindings({}, hc)] == [
        ("::", 8080), ("::1", 8081), ("", 8082)]


def test_inspect_ports_list_both_families_in_order():
    rec = record()
    got = views.ports_of(json.loads(rec.config_json), json.loads(rec.network_json))
    assert got == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18086"},
                   {"HostIp": "::", "HostPort": "18086"}],
        "80/udp": [{"HostIp": "0.0.0.0", "HostPort": "18085"},
                   {"HostIp": "::", "HostPort": "18085"}],
        "81/tcp": [{"HostIp": "::1", "HostPort": "18084"}],
        "82/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18083"}],
        "443/tcp": None}


def test_container_list_ports_show_ip_colons():
    assert views.summary(record())["Ports"] == [
        {"PrivatePort": 443, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 18086, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 18086, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 18085, "Type": "udp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 18085, "Type": "udp"},
        {"IP": "::1", "PrivatePort": 81, "PublicPort": 18084, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 82, "PublicPort": 18083, "Type": "tcp"}]
