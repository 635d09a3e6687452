import socket

import pytest

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument
from dockyard_networks.portmap import Binding, PortAllocator, bind_socket, normalise, overlaps

from conftest import FakeBind

EP = "e" * 64


def b(host_port, container_port=80, host_ip="0.0.0.0", proto="tcp"):
    return Binding(proto, host_ip, host_port, container_port)


def test_normalise_defaults_and_errors():
    assert normalise({"container_port": 80}) == b(0)
    assert normalise({"host_ip": "127.0.0.1", "host_port": 8080, "container_port": 80,
                      "protocol": "UDP"}) == b(8080, host_ip="127.0.0.1", proto="udp")
    for bad in ({"container_port": 0}, {"container_port": 70000},
                {"container_port": 80, "host_port": -1},
                {"container_port": 80, "protocol": "sctp"},
                {"container_port": 80, "host_ip": "nope"},
                {"container_port": 80, "host_ip": "::1"}):
        with pytest.raises(InvalidArgument):
            normalise(bad)


def test_overlaps():
    assert overlaps(b(8080), b(8080, host_ip="127.0.0.1"))
    assert overlaps(b(8080, host_ip="127.0.0.1"), b(8080, 81, host_ip="127.0.0.1"))
    assert not overlaps(b(8080, host_ip="127.0.0.1"), b(8080, host_ip="127.0.0.2"))
    assert not overlaps(b(8080), b(8080, proto="udp"))
    assert not overlaps(b(8080), b(8081))


def test_explicit_port_and_docker_conflict_message():
    bind = FakeBind()
    pa = PortAllocator(bind=bind)
    first = pa.allocate([b(8080)], [], "web", EP)
    assert first == [b(8080)] and bind.held == {("tcp", "0.0.0.0", 8080)}
    with pytest.raises(Conflict) as err:
        pa.allocate([b(8080, host_ip="127.0.0.1")], first, "db", EP)
    assert str(err.value) == ("driver failed programming external connectivity on endpoint db "
                              "(%s): Bind for 127.0.0.1:8080 failed: port is already allocated"
                              % EP)
    # the same port on udp is another port
    assert pa.allocate([b(8080, proto="udp")], first, "db", EP) == [b(8080, proto="udp")]


def test_port_taken_by_another_program():
    pa = PortAllocator(bind=FakeBind(busy={("tcp", 8080)}))
    with pytest.raises(Conflict, match="Error starting userland proxy: listen tcp4 "
                                       "0.0.0.0:8080: bind: address already in use"):
        pa.allocate([b(8080)], [], "web", EP)


def test_ephemeral_ports_round_robin_and_skip_busy():
    bind = FakeBind(busy={("tcp", 49154)})
    pa = PortAllocator(bind=bind, ephemeral=(49153, 49157))
    got = pa.allocate([b(0), b(0, 81)], [], "web", EP)
    assert [x.host_port for x in got] == [49153, 49155]
    more = pa.allocate([b(0)], got, "web2", EP)
    assert [x.host_port for x in more] == [49156]
    pa.release(got)
    # round robin: the next one first, then wrap around to the freed ports
    again = pa.allocate([b(0), b(0)], more, "web3", EP)
    assert [x.host_port for x in again] == [49157, 49153]
    with pytest.raises(FailedPrecondition, match="all ports are allocated"):
        pa.allocate([b(0)], more + again + [b(49155)], "web4", EP)


def test_failure_releases_what_was_taken():
    bind = FakeBind()
    pa = PortAllocator(bind=bind)
    with pytest.raises(Conflict):
        pa.allocate([b(9000), b(0), b(9000, 81)], [], "web", EP)
    assert bind.held == set() and pa.held == {}


def test_hold_again_after_restart():
    bind = FakeBind(busy={("tcp", 9001)})
    pa = PortAllocator(bind=bind)
    assert pa.hold(b(9000)) and pa.hold(b(9000))
    assert not pa.hold(b(9001))
    pa.release_all()
    assert bind.held == set()


def test_real_reservation_socket_blocks_other_binders():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    pa = PortAllocator()
    pa.allocate([b(port, host_ip="127.0.0.1")], [], "web", EP)
    other = socket.socket()
    with pytest.raises(OSError):
        other.bind(("127.0.0.1", port))
    other.close()
    pa.release_all()
    s = bind_socket(b(port, host_ip="127.0.0.1"))  # free again
    s.close()
