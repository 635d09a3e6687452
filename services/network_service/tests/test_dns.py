"""Embedded DNS: the records built from network.db rows, the answers, and the server loop
(over sockets on the host's loopback instead of a sandbox netns: no root needed)."""

import socket
import struct
import threading

from dnslib import RCODE, RR, DNSRecord

from dockyard_networks import dnsrecords
from dockyard_networks.dnsserver import DnsServer

A_ID, B_ID, C_ID = "a1" * 32, "b2" * 32, "c3" * 32

NETS = [{"id": "n-bridge", "name": "bridge", "driver": "bridge", "predefined": 1, "internal": 0},
        {"id": "n-app", "name": "app", "driver": "bridge", "predefined": 0, "internal": 0},
        {"id": "n-int", "name": "secret", "driver": "bridge", "predefined": 0, "internal": 1}]
SANDBOXES = [{"container_id": A_ID, "container_name": "/web", "mode": "netns"},
             {"container_id": B_ID, "container_name": "client", "mode": "netns"},
             {"container_id": C_ID, "container_name": "lonely", "mode": "netns"}]
ENDPOINTS = [
    {"container_id": A_ID, "network_id": "n-app", "ip": "10.5.0.2", "aliases": ["www"]},
    {"container_id": A_ID, "network_id": "n-int", "ip": "10.6.0.2", "aliases": []},
    {"container_id": B_ID, "network_id": "n-app", "ip": "10.5.0.3", "aliases": ["www"]},
    {"container_id": C_ID, "network_id": "n-bridge", "ip": "10.4.0.2", "aliases": []},
    {"container_id": B_ID, "network_id": "n-bridge", "ip": "10.4.0.3", "aliases": []},
]


def records():
    return dnsrecords.build(NETS, ENDPOINTS, SANDBOXES)


def ask(rec, cid, name, qtype="A", can_forward=False):
    out = dnsrecords.answer(rec, cid, DNSRecord.question(name, qtype).pack(), can_forward)
    return out if out in (None, dnsrecords.FORWARD) else DNSRecord.parse(out)


def ips(reply):
    return sorted(str(rr.rdata) for rr in reply.rr)


def test_names_aliases_short_ids_and_network_suffix():
    rec = records()
    assert ips(ask(rec, B_ID, "web")) == ["10.5.0.2"]
    assert ips(ask(rec, B_ID, "WEB.")) == ["10.5.0.2"]       # case-insensitive, absolute
    assert ips(ask(rec, B_ID, A_ID[:12])) == ["10.5.0.2"]
    assert ips(ask(rec, B_ID, "web.app")) == ["10.5.0.2"]
    assert ips(ask(rec, B_ID, "www")) == ["10.5.0.2", "10.5.0.3"]  # shared alias: both
    assert ips(ask(rec, A_ID, "client")) == ["10.5.0.3"]
    assert ips(ask(rec, A_ID, "web")) == ["10.5.0.2"]  # itself, on the first network
    reply = ask(rec, B_ID, "web")
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa and reply.rr[0].ttl == 600


def test_default_bridge_and_other_networks_do_not_resolve():
    rec = records()
    assert not rec.serves(C_ID)                        # only on the default bridge
    assert ask(rec, C_ID, "client").header.rcode == RCODE.NXDOMAIN
    assert ask(rec, B_ID, "lonely").header.rcode == RCODE.NXDOMAIN  # bridge names: none
    assert ask(rec, B_ID, "web.secret").header.rcode == RCODE.NXDOMAIN  # not B's network
    assert dnsrecords.dns_names("/web", A_ID, ["www", "web"]) == ["web", A_ID[:12], "www"]


def test_aaaa_of_our_name_is_empty_noerror_and_ptr():
    rec = records()
    r = ask(rec, B_ID, "web", "AAAA")
    assert r.header.rcode == RCODE.NOERROR and r.rr == []
    r = ask(rec, B_ID, "2.0.5.10.in-addr.arpa", "PTR")
    assert str(r.rr[0].rdata) == "web.app."


def test_unknown_names_forward_only_when_allowed():
    rec = records()
    assert ask(rec, B_ID, "example.org", can_forward=True) == dnsrecords.FORWARD
    assert ask(rec, B_ID, "example.org").header.rcode == RCODE.NXDOMAIN
    internal_only = dnsrecords.build(NETS, [ENDPOINTS[1]], SANDBOXES)
    assert ask(internal_only, A_ID, "example.org", can_forward=True).header.rcode == RCODE.NXDOMAIN
    assert dnsrecords.answer(rec, B_ID, b"garbage") is None


# --------------------------------------------------------------------- the server loop
class LoopbackSockets:
    """Opens the "sandbox" sockets on 127.0.0.1 with free ports (the real ones live in a
    netns at 127.0.0.11:53)."""

    def __init__(self):
        self.opened = {}

    def __call__(self, path):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(4)
        for s in (udp, tcp):
            s.setblocking(False)
        self.opened[path] = (udp.getsockname(), tcp.getsockname(), udp, tcp)
        return udp, tcp


def udp_query(addr, name, qtype="A", timeout=3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(DNSRecord.question(name, qtype).pack(), addr)
        return DNSRecord.parse(s.recv(4096))
    finally:
        s.close()


def tcp_query(addr, name):
    with socket.create_connection(addr, timeout=3) as s:
        q = DNSRecord.question(name).pack()
        s.sendall(struct.pack("!H", len(q)) + q)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = s.recv(4096)
            assert chunk
            data += chunk
        return DNSRecord.parse(data[2:])


class FakeUpstream:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = self.sock.getsockname()
        self.seen = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            q = DNSRecord.parse(data)
            self.seen.append(str(q.q.qname))
            reply = q.reply()
            reply.add_answer(*RR.fromZone("%s 60 A 192.0.2.7" % q.q.qname))
            self.sock.sendto(reply.pack(), addr)

    def close(self):
        self.sock.close()


def test_server_answers_udp_tcp_follows_updates_and_forwards():
    upstream = FakeUpstream()
    opener = LoopbackSockets()
    dns = DnsServer(upstreams=[("127.0.0.1", 1), upstream.addr], open_sockets=opener)
    dns.start()
    try:
        dns.update(records(), {A_ID: "/ns/a", B_ID: "/ns/b"})
        b_udp, b_tcp = opener.opened["/ns/b"][:2]
        assert ips(udp_query(b_udp, "web")) == ["10.5.0.2"]
        assert ips(tcp_query(b_tcp, "web")) == ["10.5.0.2"]
        # names not ours: the first upstream refuses (port 1), the second answers
        r = udp_query(b_udp, "example.org")
        assert ips(r) == ["192.0.2.7"] and upstream.seen == ["example.org."]
        # A leaves: B no longer resolves "web" (only "www" from itself), A's sockets close
        rest = [e for e in ENDPOINTS if e["container_id"] != A_ID]
        dns.update(dnsrecords.build(NETS, rest, SANDBOXES), {B_ID: "/ns/b"})
        assert opener.opened["/ns/a"][2].fileno() == -1
        assert ips(udp_query(b_udp, "www")) == ["10.5.0.3"]
        assert ips(udp_query(b_udp, "web")) == ["192.0.2.7"]  # now forwarded
        dns.forget(B_ID)
        assert opener.opened["/ns/b"][2].fileno() == -1 and dns.served() == {}
    finally:
        dns.close()
        upstream.close()


def test_server_without_upstreams_answers_nxdomain_at_once():
    opener = LoopbackSockets()
    dns = DnsServer(upstreams=[], open_sockets=opener)
    dns.start()
    try:
        dns.update(records(), {B_ID: "/ns/b"})
        r = udp_query(opener.opened["/ns/b"][0], "example.org", timeout=1)
        assert r.header.rcode == RCODE.NXDOMAIN and not r.header.ra
    finally:
        dns.close()
