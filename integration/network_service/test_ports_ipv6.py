"""Ports published on IPv6 (the userland proxy), against the real kernel: a binding without
HostIp answers on 127.0.0.1 (kernel NAT) and on [::1] (proxied to the container's IPv4 address,
or its IPv6 one on an IPv6 network), TCP and UDP; restored after a restart of the service;
nothing listens once the endpoint is gone."""

import secrets
import socket
import sys
import time

import pytest

from dockyard_api.networks.v1 import networks_pb2 as pb
from dockyard_common.errors import Conflict
from dockyard_networks.portmap import v6_listenable

from test_ports_dns import get, get_retry, web

pytestmark = pytest.mark.skipif(not v6_listenable(), reason="no IPv6 on this host")

UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(b"echo:" + data, addr)
"""

V6_ONLY_HTTP = """
import http.server, socket, sys
class V6(http.server.HTTPServer):
    address_family = socket.AF_INET6
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("via %s\\n" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
V6((sys.argv[1], 80), Hello).serve_forever()
"""


def cid():
    return secrets.token_hex(32)


def free_port_both():
    """A port free on 127.0.0.1 and on [::]."""
    for _ in range(50):
        s4 = socket.socket()
        s4.bind(("127.0.0.1", 0))
        port = s4.getsockname()[1]
        s6 = socket.socket(socket.AF_INET6)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s6.bind(("::", port))
            return port
        except OSError:
            continue
        finally:
            s4.close()
            s6.close()
    raise AssertionError("no free port")


def attach(networks, c, bindings, network="bridge", **kw):
    return networks.Attach(pb.AttachRequest(
        container_id=c, network=network,
        port_bindings=[pb.PortBinding(host_ip=ip, host_port=hp, container_port=cp, protocol=proto)
                       for ip, hp, cp, proto in bindings], **kw))


def udp_ask(port, data, tries=30):
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        for _ in range(tries):
            s.sendto(data, ("::1", port))
            try:
                return s.recvfrom(65535)[0]
            except OSError:
                time.sleep(0.1)
    raise AssertionError("no UDP answer on [::1]:%d" % port)


def listening(port):
    """Our sockets (any family, tcp or udp) on `port`, from /proc/net."""
    hexport = ":%04X" % port
    found = []
    for name in ("tcp", "tcp6", "udp", "udp6"):
        with open("/proc/net/" + name) as f:
            next(f)
            found += [(name, line.split()[1]) for line in f
                      if line.split()[1].endswith(hexport) and line.split()[3] in ("0A", "07")]
    return found


def test_published_on_both_families_restored_and_released(networks, procs, tmp_path):
    tport, uport = free_port_both(), free_port_both()
    c = cid()
    ep = attach(networks, c, [("", tport, 80, "tcp"), ("", uport, 53, "udp")],
                container_name="web")
    assert [(b.host_ip, b.host_port, b.protocol) for b in ep.port_bindings] == [
        ("0.0.0.0", tport, "tcp"), ("::", tport, "tcp"), ("0.0.0.0", uport, "udp"),
        ("::", uport, "udp")]
    web(procs, tmp_path, ep, "both-families")
    procs.start(ep.netns_path, sys.executable, "-c", UDP_ECHO, "53")
    assert get_retry("http://127.0.0.1:%d/" % tport) == "both-families\n"
    assert get_retry("http://[::1]:%d/" % tport) == "both-families\n"
    assert udp_ask(uport, b"hi") == b"echo:hi"
    # a second binding of [::] is Docker's "already allocated"
    with pytest.raises(Conflict, match="Bind for :::%d failed: port is already allocated"
                       % tport):
        attach(networks, cid(), [("::", tport, 80, "tcp")], container_name="db")
    networks.restart()  # live restore: the proxy serves again
    assert get_retry("http://[::1]:%d/" % tport) == "both-families\n"
    assert get("http://127.0.0.1:%d/" % tport) == "both-families\n"
    assert udp_ask(uport, b"again") == b"echo:again"
    networks.Detach(pb.DetachRequest(container_id=c))
    assert listening(tport) == [] and listening(uport) == []
    for url in ("http://127.0.0.1:%d/" % tport, "http://[::1]:%d/" % tport):
        with pytest.raises(OSError):
            get(url, timeout=1)


def test_explicit_addresses_publish_one_family(networks, procs, tmp_path):
    p6, p4 = free_port_both(), free_port_both()
    c = cid()
    ep = attach(networks, c, [("::1", p6, 80, "tcp"), ("127.0.0.1", p4, 80, "tcp")])
    assert [(b.host_ip, b.host_port) for b in ep.port_bindings] == [("::1", p6),
                                                                    ("127.0.0.1", p4)]
    web(procs, tmp_path, ep, "one-family")
    assert get_retry("http://[::1]:%d/" % p6) == "one-family\n"
    assert get_retry("http://127.0.0.1:%d/" % p4) == "one-family\n"
    for url in ("http://127.0.0.1:%d/" % p6, "http://[::1]:%d/" % p4):
        with pytest.raises(OSError):
            get(url, timeout=1)
    # [::] over a taken [::1]: the kernel refuses, with docker-proxy's message
    with pytest.raises(Conflict, match=r"Error starting userland proxy: listen tcp6 \[::\]:%d: "
                                       r"bind: address already in use" % p6):
        attach(networks, cid(), [("", p6, 80, "tcp")])
    networks.Detach(pb.DetachRequest(container_id=c))
    assert listening(p6) == [] and listening(p4) == []


def test_container_with_ipv6_gets_ipv6_clients_on_its_ipv6_address(networks, procs):
    networks.Create(pb.CreateNetworkRequest(name="it-v6ports", enable_ipv6=True, ipam=[
        pb.IPAMConfig(subnet="fd00:d0c:9::/64")]))
    try:
        port = free_port_both()
        c = cid()
        ep = attach(networks, c, [("", port, 80, "tcp")], network="it-v6ports")
        assert ep.ipv6_address
        procs.start(ep.netns_path, sys.executable, "-c", V6_ONLY_HTTP, ep.ipv6_address)
        # the server listens on the container's IPv6 address only, and sees the gateway
        assert get_retry("http://[::1]:%d/" % port).startswith("via fd00:d0c:9::")
        networks.Detach(pb.DetachRequest(container_id=c))
        assert listening(port) == []
    finally:
        procs.stop_all()
        networks.Remove(pb.GetNetworkRequest(ref="it-v6ports"))
