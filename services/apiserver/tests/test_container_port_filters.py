"""`docker ps --filter publish=... / expose=...` as Docker 20.10 answers them: the ports listed
in the PORTS column (live endpoints only), public port for publish, private for expose."""

import json

import pytest

from dockyard_api.containers.v1 import containers_pb2
from dockyard_apiserver.backend.container_filters import ContainerFilter, port_set
from dockyard_common import errors


def rec(name, exposed=(), published=None, attached=True):
    config = {"ExposedPorts": {p: {} for p in exposed}}
    net = {"mode": "bridge", "attached": attached, "ports": published or {}}
    return containers_pb2.Container(id=name * 8, name=name, created="2024-01-01T00:00:00Z",
                                    config_json=json.dumps(config).encode(),
                                    network_json=json.dumps(net).encode())


def bound(port):
    return [{"HostIp": "0.0.0.0", "HostPort": str(port)}]


RECS = [
    rec("a", ["80/tcp"], {"80/tcp": bound(18080)}),                   # -p 18080:80
    rec("b", ["80/tcp"], {"80/tcp": bound(32768)}),                   # -p 80
    rec("d", ["8080/tcp"]),                                           # --expose 8080
    rec("e", ["53/udp"], {"53/udp": bound(15353)}),                   # -p 15353:53/udp
    rec("f", ["81/tcp"], {"81/tcp": bound(18081)}, attached=False),   # created / stopped
    rec("g", ["90/tcp", "91/tcp"], {"90/tcp": bound(18090), "91/tcp": bound(18091)}),
]


def names(**filters):
    flt = ContainerFilter({k: set(v) for k, v in filters.items()}, backend=None)
    return [r.name for r in RECS if flt.match(r)]


@pytest.mark.parametrize("filters,want", [
    ({"publish": ["80"]}, []),                         # the container port is not published
    ({"publish": ["18080"]}, ["a"]),
    ({"publish": ["18080/tcp"]}, ["a"]),
    ({"publish": ["18080/udp"]}, []),
    ({"publish": ["15353"]}, []),
    ({"publish": ["15353/udp"]}, ["e"]),
    ({"publish": ["18081"]}, []),                      # not running: no ports
    ({"publish": ["18085-18095/tcp"]}, ["g"]),
    ({"publish": ["32768"]}, ["b"]),
    ({"publish": ["0"]}, ["d"]),                       # exposed only: public port 0
    ({"publish": ["18080/TCP"]}, []),                  # the protocol is taken as written
    ({"publish": ["18080/"]}, ["a"]),
    ({"expose": ["80"]}, ["a", "b"]),
    ({"expose": ["8080"]}, ["d"]),
    ({"expose": ["53"]}, []),
    ({"expose": ["53/udp"]}, ["e"]),
    ({"expose": ["81"]}, []),
    ({"expose": ["89-90"]}, ["g"]),
    ({"expose": ["0"]}, []),
    ({"publish": ["18080", "18090"]}, ["a", "g"]),
    ({"publish": ["80"], "expose": ["80"]}, ["a", "b"]),   # either matches
])
def test_publish_and_expose(filters, want):
    assert names(**filters) == want


@pytest.mark.parametrize("value,message", [
    ("abc", 'error while looking up for publish abc: strconv.ParseUint: parsing "abc": invalid syntax'),
    ("80:80", "filter for 'publish' should not contain ':': 80:80"),
    ("90-80", "error while looking up for publish 90-80: Invalid range specified for the Port: 90-80"),
    ("", "error while looking up for publish : Empty string specified for ports."),
    ("/tcp", "error while looking up for publish /tcp: Empty string specified for ports."),
    ("70000", 'error while looking up for publish 70000: strconv.ParseUint: parsing "70000": value out of range'),
    ("-80", 'error while looking up for publish -80: strconv.ParseUint: parsing "": invalid syntax'),
])
def test_bad_values_are_docker_500s(value, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        ContainerFilter({"publish": {value}}, backend=None)
    assert exc.value.message == message


def test_port_set():
    assert port_set("expose", ["8000-8002/udp", "22"]) == {"8000/udp", "8001/udp", "8002/udp", "22/tcp"}
    assert port_set("expose", ["10-20-30"]) == {"%d/tcp" % p for p in range(10, 21)}
