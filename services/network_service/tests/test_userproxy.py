"""The userland proxy over real loopback sockets: IPv6 clients reach an IPv4 backend."""

import socket
import socketserver
import threading

import pytest

from dockyard_networks.portmap import Binding, bind_socket, v6_listenable
from dockyard_networks.userproxy import UserlandProxy

pytestmark = pytest.mark.skipif(not v6_listenable(), reason="no IPv6 on this host")


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)
        self.request.shutdown(socket.SHUT_WR)  # after the client's half-close


class _UdpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(b"echo:" + data, self.client_address)


@pytest.fixture
def backends():
    tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), _UdpEcho)
    tcp.daemon_threads = udp.daemon_threads = True
    for s in (tcp, udp):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield tcp.server_address, udp.server_address
    for s in (tcp, udp):
        s.shutdown()
        s.server_close()


@pytest.fixture
def proxy():
    p = UserlandProxy()
    yield p
    p.close()


def _serve(proxy, protocol, target):
    sock = bind_socket(Binding(protocol, "::1", 0, target[1]))
    port = sock.getsockname()[1]
    proxy.start((protocol, "::1", port), sock, protocol, target)
    return port


def test_tcp_streams_both_ways_with_half_close(proxy, backends):
    port = _serve(proxy, "tcp", backends[0])
    payload = bytes(range(256)) * (8 * 4096)   # 8 MiB
    got = bytearray()
    with socket.create_connection(("::1", port), timeout=10) as c:
        def send():
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
        sender = threading.Thread(target=send)
        sender.start()
        while True:
            data = c.recv(1 << 20)
            if not data:
                break
            got += data
        sender.join()
    assert bytes(got) == payload


def test_udp_answers_each_client(proxy, backends):
    port = _serve(proxy, "udp", backends[1])
    for word in (b"one", b"two"):
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            c.sendto(word, ("::1", port))
            assert c.recvfrom(1024)[0] == b"echo:" + word


def test_unreachable_backend_closes_the_client(proxy):
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))      # bound, not listening: connections are refused
        port = _serve(proxy, "tcp", dead.getsockname())
        with socket.create_connection(("::1", port), timeout=10) as c:
            assert c.recv(10) == b""


def test_stop_closes_the_port_and_its_connections(proxy, backends):
    port = _serve(proxy, "tcp", backends[0])
    c = socket.create_connection(("::1", port), timeout=10)
    c.sendall(b"ping")
    assert c.recv(4) == b"ping"
    proxy.stop(("tcp", "::1", port))
    assert proxy.keys() == set()
    try:
        assert c.recv(10) == b""  # aborted
    except ConnectionResetError:
        pass
    c.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("::1", port), timeout=5)
    # the port is free again
    bind_socket(Binding("tcp", "::1", port, 80)).close()
