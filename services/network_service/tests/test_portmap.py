import socket

import pytest

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument
from dockyard_networks.portmap import (Binding, PortAllocator, bind_socket, expand, normalise,
                                      overlaps, v6_listenable)

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
                {"container_port": 80, "host_ip": "[::1]"}):
        with pytest.raises(InvalidArgument):
            normalise(bad)


def test_normalise_ipv6_host_addresses():
    assert normalise({"host_ip": "::1", "host_port": 8080, "container_port": 80}) == \
        b(8080, host_ip="::1")
    assert normalise({"host_ip": "0:0::0", "container_port": 80}) == b(0, host_ip="::")
    assert normalise({"host_ip": "::ffff:127.0.0.1", "container_port": 80}) == \
        b(0, host_ip="127.0.0.1")


def test_expand_adds_the_ipv6_twin_only_without_host_ip():
    raws = [{"container_port": 80, "host_port": 8080}, {"container_port": 81, "protocol": "udp"},
            {"container_port": 82, "host_ip": "0.0.0.0"}, {"container_port": 83, "host_ip": "::"},
            {"container_port": 84, "host_ip": "127.0.0.1"}]
    got = expand(raws, ipv6=True)
    assert got == [b(8080), b(8080, host_ip="::"), b(0, 81, proto="udp"),
                   b(0, 81, host_ip="::", proto="udp"), b(0, 82), b(0, 83, host_ip="::"),
                   b(0, 84, host_ip="127.0.0.1")]
    assert [x.twin for x in got] == [False, True, False, True, False, False, False]
    assert expand(raws, ipv6=False) == [b(8080), b(0, 81, proto="udp"), b(0, 82),
                                        b(0, 83, host_ip="::"), b(0, 84, host_ip="127.0.0.1")]


def test_ipv6_overlaps_only_the_same_address():
    assert not overlaps(b(8080), b(8080, host_ip="::"))
    assert overlaps(b(8080, host_ip="::"), b(8080, 81, host_ip="::"))
    assert not overlaps(b(8080, host_ip="::"), b(8080, host_ip="::1"))
    assert not overlaps(b(8080, host_ip="::"), b(8080, host_ip="::", proto="udp"))


def test_ipv6_conflicts_give_dockers_messages():
    bind = FakeBind()
    pa = PortAllocator(bind=bind)
    first = pa.allocate(expand([{"container_port": 80, "host_port": 8080}], True), [], "web", EP)
    assert first == [b(8080), b(8080, host_ip="::")]
    assert bind.held == {("tcp", "0.0.0.0", 8080), ("tcp", "::", 8080)}
    with pytest.raises(Conflict) as err:
        pa.allocate([b(8080, host_ip="::")], first, "db", EP)
    assert str(err.value).endswith("(%s): Bind for :::8080 failed: port is already allocated"
                                   % EP)
    busy = PortAllocator(bind=FakeBind(busy={("tcp", 8080), ("udp", 8081)}))
    with pytest.raises(Conflict) as err:
        busy.allocate([b(8080, host_ip="::1")], [], "web", EP)
    assert str(err.value).endswith("Error starting userland proxy: listen tcp6 [::1]:8080: "
                                   "bind: address already in use")
    with pytest.raises(Conflict, match=r"listen udp6 \[::\]:8081: bind: address already"):
        busy.allocate([b(8081, host_ip="::", proto="udp")], [], "web", EP)


def test_ephemeral_twins_share_a_port_free_on_both_sides():
    class HalfBusy(FakeBind):  # 49153 is taken on [::] only
        def __call__(self, b):
            if b.host_ip == "::" and b.host_port == 49153:
                raise OSError(98, "Address already in use")
            return super().__call__(b)
    bind = HalfBusy()
    pa = PortAllocator(bind=bind, ephemeral=(49153, 49157))
    got = pa.allocate(expand([{"container_port": 80}, {"container_port": 81}], True), [],
                      "web", EP)
    assert [(x.host_ip, x.host_port) for x in got] == [
        ("0.0.0.0", 49154), ("::", 49154), ("0.0.0.0", 49155), ("::", 49155)]
    assert bind.held == {x.key() for x in got}
    pa.release(got)
    assert bind.held == set()


class FakeProxy:
    def __init__(self):
        self.serving = {}

    def start(self, key, sock, protocol, target):
        self.serving[key] = (sock, protocol, target)

    def stop(self, key):
        self.serving.pop(key, None)


def test_ipv6_bindings_are_proxied_to_the_container():
    proxy, bind = FakeProxy(), FakeBind()
    pa = PortAllocator(bind=bind, proxy=proxy)
    wanted = expand([{"container_port": 80, "host_port": 8080},
                     {"container_port": 53, "host_port": 5353, "protocol": "udp"}], True)
    got = pa.allocate(wanted, [], "web", EP, target=("10.0.0.2", ""))
    assert {k: v[1:] for k, v in proxy.serving.items()} == {
        ("tcp", "::", 8080): ("tcp", ("10.0.0.2", 80)),
        ("udp", "::", 5353): ("udp", ("10.0.0.2", 53))}
    pa.release(got)
    assert proxy.serving == {} and bind.held == set()
    # a container with its own IPv6 address gets IPv6 clients there (Docker 20.10)
    got = pa.allocate(wanted[:2], [], "web", EP, target=("10.0.0.2", "fd00::2"))
    assert proxy.serving[("tcp", "::", 8080)][2] == ("fd00::2", 80)
    # after a restart: held and served again
    pa.release_all()
    assert pa.hold(got[1], target=("10.0.0.3", "")) and pa.hold(got[0])
    assert list(proxy.serving.values())[0][2] == ("10.0.0.3", 80)


def test_a_failed_proxy_start_releases_everything():
    class Broken(FakeProxy):
        def start(self, *args):
            raise RuntimeError("boom")
    bind = FakeBind()
    pa = PortAllocator(bind=bind, proxy=Broken())
    with pytest.raises(RuntimeError):
        pa.allocate(expand([{"container_port": 80, "host_port": 8080}], True), [], "web", EP,
                    target=("10.0.0.2", ""))
    assert bind.held == set() and pa.held == {}
    assert not pa.hold(b(8080, host_ip="::"), target=("10.0.0.2", ""))
    assert bind.held == set()


def test_real_ipv6_socket_is_v6only_and_listening():
    if not v6_listenable():
        pytest.skip("no IPv6 on this host")
    s4 = bind_socket(b(0, host_ip="127.0.0.1"))
    port = s4.getsockname()[1]
    try:
        s6 = bind_socket(b(port, host_ip="::"))  # IPv6-only: no clash with the IPv4 side
        try:
            assert s6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
            assert s6.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
            with pytest.raises(OSError):
                bind_socket(b(port, host_ip="::1"))
        finally:
            s6.close()
    finally:
        s4.close()


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
