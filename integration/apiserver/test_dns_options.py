"""--dns, --dns-search, --dns-option and `docker rename` through the real stack, with the
resolv.conf Docker 20.10 writes and the embedded DNS answering from another container.

Nothing leaves the machine: --dns addresses such as 9.9.9.9 are only written to resolv.conf;
the one resolver ever asked is FakeResolver, which the test binds to a user network's gateway
(containers that may forward a question get `--dns <gateway>`)."""

import os
import shutil
import socket
import threading

import pytest
from dnslib import QTYPE, RCODE, RR, DNSRecord

from stackutil import IMAGE, cli, ok

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
              pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]

FLAGS = ("--dns", "9.9.9.9", "--dns", "1.1.1.1", "--dns-search", "example.com",
         "--dns-option", "ndots:2", "--dns-option", "timeout:3")
OUTSIDE = "outside.test"
OUTSIDE_IP = "192.0.2.7"


class FakeResolver:
    """Answers OUTSIDE with OUTSIDE_IP and NXDOMAIN for the rest; remembers the names asked."""

    def __init__(self, ip):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 53))
        self.sock.settimeout(0.2)  # so close() can stop the thread (a blocked recv holds the port)
        self.seen = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            q = DNSRecord.parse(data)
            name = str(q.q.qname).rstrip(".")
            self.seen.append(name)
            reply = q.reply()
            if name == OUTSIDE and q.q.qtype == QTYPE.A:
                reply.add_answer(*RR.fromZone("%s 60 A %s" % (OUTSIDE, OUTSIDE_IP)))
            elif name != OUTSIDE:
                reply.header.rcode = RCODE.NXDOMAIN
            self.sock.sendto(reply.pack(), addr)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def resolv_conf(st, name):
    return ok(cli(st, "exec", name, "cat", "/etc/resolv.conf"))


def lookup(st, client, name):
    """(resolved, output) of busybox nslookup run in `client`."""
    r = cli(st, "exec", client, "nslookup", name)
    return r.returncode == 0 and "Address" in r.stdout.split("Name:", 1)[-1], r.stdout + r.stderr


@pytest.fixture
def usernet(st):
    ok(cli(st, "network", "create", "dns-net"))
    gateway = st.client.api.inspect_network("dns-net")["IPAM"]["Config"][0]["Gateway"]
    resolver = FakeResolver(gateway)
    try:
        yield gateway, resolver
    finally:
        cli(st, "rm", "-f", "dn-a", "dn-a2", "dn-b", "dn-c", "dn-c2", "dn-d")
        resolver.close()
        cli(st, "network", "rm", "dns-net")


def test_default_bridge_resolv_conf_takes_the_flags(st):
    out = ok(cli(st, "run", "--rm", *FLAGS, IMAGE, "cat", "/etc/resolv.conf"))
    assert out == ("search example.com\nnameserver 9.9.9.9\nnameserver 1.1.1.1\n"
                   "options ndots:2 timeout:3\n")
    out = ok(cli(st, "run", "--rm", "--network", "none", "--dns", "9.9.9.9", IMAGE,
                 "cat", "/etc/resolv.conf"))
    assert out == "nameserver 9.9.9.9\n"


def test_user_network_flags_persist_and_forward_to_the_dns_servers(st, usernet):
    gateway, resolver = usernet
    ok(cli(st, "run", "-d", "--name", "dn-d", "--network", "dns-net", "--dns", gateway,
           "--dns", "9.9.9.9", "--dns-search", "example.com", "--dns-option", "ndots:2",
           IMAGE, "sleep", "300"))
    expected = "search example.com\nnameserver 127.0.0.11\noptions ndots:2\n"
    assert resolv_conf(st, "dn-d") == expected
    hc = st.client.api.inspect_container("dn-d")["HostConfig"]
    assert (hc["Dns"], hc["DnsSearch"], hc["DnsOptions"]) == (
        [gateway, "9.9.9.9"], ["example.com"], ["ndots:2"])
    # names not on the network go to the container's --dns server (the first one answers)
    found, out = lookup(st, "dn-d", OUTSIDE)
    assert found and OUTSIDE_IP in out, out
    assert OUTSIDE in resolver.seen
    ok(cli(st, "restart", "-t", "1", "dn-d"))
    assert resolv_conf(st, "dn-d") == expected
    st.stop_service("network")
    st.start_service("network")
    assert resolv_conf(st, "dn-d") == expected
    resolver.seen.clear()
    found, out = lookup(st, "dn-d", OUTSIDE)
    assert found and OUTSIDE_IP in out and resolver.seen, out
    hc = st.client.api.inspect_container("dn-d")["HostConfig"]
    assert hc["Dns"] == [gateway, "9.9.9.9"]


def test_rename_moves_the_dns_name(st, usernet):
    gateway, resolver = usernet
    ok(cli(st, "run", "-d", "--name", "dn-a", "--network", "dns-net", "--network-alias", "al1",
           IMAGE, "sleep", "300"))
    # the asking container forwards what is not ours to FakeResolver only
    ok(cli(st, "run", "-d", "--name", "dn-b", "--network", "dns-net", "--dns", gateway,
           IMAGE, "sleep", "300"))
    assert lookup(st, "dn-b", "dn-a")[0]
    ok(cli(st, "rename", "dn-a", "dn-a2"))
    found, out = lookup(st, "dn-b", "dn-a2")
    assert found, out
    found, out = lookup(st, "dn-b", "dn-a")
    assert not found and "NXDOMAIN" in out, out
    assert "dn-a" in resolver.seen        # no longer ours: forwarded, as Docker
    assert lookup(st, "dn-b", "al1")[0]  # aliases unchanged
    info = st.client.api.inspect_container("dn-a2")
    net = info["NetworkSettings"]["Networks"]["dns-net"]
    assert net["Aliases"] == ["al1", info["Id"][:12]]
    assert set(net["DNSNames"]) == {"dn-a2", info["Id"][:12], "al1"}
    members = st.client.api.inspect_network("dns-net")["Containers"]
    assert members[info["Id"]]["Name"] == "dn-a2"
    # a stopped container renamed answers to its new name once started
    ok(cli(st, "create", "--name", "dn-c", "--network", "dns-net", IMAGE, "sleep", "300"))
    ok(cli(st, "rename", "dn-c", "dn-c2"))
    ok(cli(st, "start", "dn-c2"))
    assert lookup(st, "dn-b", "dn-c2")[0]
    assert not lookup(st, "dn-b", "dn-c")[0]
