"""Published ports (kernel NAT) and the embedded DNS server, against the real kernel.

Servers are busybox httpd processes started inside a sandbox's netns with nsenter (a test tool
only); the host reaches them on 127.0.0.1:<host port>. DNS questions go to 127.0.0.11 from
inside the sandboxes, both with busybox nslookup and with dnslib from a thread in the netns.
"""

import os
import secrets
import socket
import subprocess
import time
import urllib.request

import pytest
from dnslib import RCODE, DNSRecord

from dockyard_api.networks.v1 import networks_pb2 as pb
from dockyard_common.errors import Conflict, NotFound
from dockyard_networks import netns


def cid():
    return secrets.token_hex(32)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def attach(networks, c, network="bridge", ports=(), **kw):
    return networks.Attach(pb.AttachRequest(
        container_id=c, network=network,
        port_bindings=[pb.PortBinding(host_ip=ip, host_port=hp, container_port=cp, protocol="tcp")
                       for ip, hp, cp in ports], **kw))


def web(procs, tmp_path, ep, content, port=80):
    root = tmp_path / ("www-" + secrets.token_hex(3))
    root.mkdir()
    (root / "index.html").write_text(content + "\n")
    procs.start(ep.netns_path, "/bin/busybox", "httpd", "-f", "-p", str(port), "-h", str(root))


def get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def get_retry(url, tries=50):
    last = None
    for _ in range(tries):
        try:
            return get(url)
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError("%s never answered: %s" % (url, last))


def iptables(table):
    return subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True,
                          text=True, check=True).stdout


# ------------------------------------------------------------------ published ports
def test_publish_fixed_port_on_loopback_and_all_addresses(stack, networks, procs, tmp_path):
    p1, p2 = free_port(), free_port()
    ep = attach(networks, cid(), ports=[("127.0.0.1", p1, 80), ("", p2, 80)],
                container_name="web")
    assert [(b.host_ip, b.host_port, b.container_port, b.protocol) for b in ep.port_bindings] == \
        [("127.0.0.1", p1, 80, "tcp"), ("0.0.0.0", p2, 80, "tcp"), ("::", p2, 80, "tcp")]
    web(procs, tmp_path, ep, "published-fixed")
    assert get_retry("http://127.0.0.1:%d/" % p1) == "published-fixed\n"
    assert get_retry("http://127.0.0.1:%d/" % p2) == "published-fixed\n"
    prefix = stack.env["DOCKYARD_IPTABLES_CHAIN_PREFIX"]
    nat = iptables("nat")
    assert "-A %s-PORTS -d 127.0.0.1/32 -p tcp -m tcp --dport %d -j DNAT --to-destination " \
           "%s:80" % (prefix, p1, ep.ip_address) in nat
    assert "-A OUTPUT -m addrtype --dst-type LOCAL -j %s-PORTS" % prefix in nat
    # the port is reserved: no other program can take it
    s = socket.socket()
    with pytest.raises(OSError):
        s.bind(("127.0.0.1", p1))
    s.close()


def test_publish_ephemeral_port(networks, procs, tmp_path):
    ep = attach(networks, cid(), ports=[("127.0.0.1", 0, 8080)])
    port = ep.port_bindings[0].host_port
    assert 49153 <= port <= 65535
    web(procs, tmp_path, ep, "published-random", port=8080)
    assert get_retry("http://127.0.0.1:%d/" % port) == "published-random\n"
    again = networks.Endpoints(pb.EndpointsRequest(container_id=ep.container_id)).endpoints[0]
    assert again.port_bindings[0].host_port == port


def test_port_conflict_uses_dockers_message(networks):
    port = free_port()
    attach(networks, cid(), ports=[("", port, 80)])
    c2 = cid()
    with pytest.raises(Conflict, match=r"driver failed programming external connectivity on "
                       r"endpoint db \([0-9a-f]{64}\): Bind for 127.0.0.1:%d failed: port is "
                       r"already allocated" % port):
        attach(networks, c2, ports=[("127.0.0.1", port, 80)], container_name="db")
    assert networks.Endpoints(pb.EndpointsRequest(container_id=c2)).endpoints == []
    # a port some other program holds
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(Conflict, match="address already in use"):
            attach(networks, cid(), ports=[("127.0.0.1", holder.getsockname()[1], 80)])
    finally:
        holder.close()


def test_forwarding_survives_a_restart_and_detach_removes_it(stack, networks, procs, tmp_path):
    port = free_port()
    c = cid()
    ep = attach(networks, c, ports=[("127.0.0.1", port, 80)])
    web(procs, tmp_path, ep, "survivor")
    assert get_retry("http://127.0.0.1:%d/" % port) == "survivor\n"
    networks.restart()
    assert get("http://127.0.0.1:%d/" % port) == "survivor\n"
    prefix = stack.env["DOCKYARD_IPTABLES_CHAIN_PREFIX"]
    nat = iptables("nat")
    for hook in ("PREROUTING", "OUTPUT"):  # hooked once, not once per start
        assert nat.count("-A %s -m addrtype --dst-type LOCAL -j %s-PORTS" % (hook, prefix)) == 1
    assert nat.count("--dport %d -j DNAT" % port) == 1
    got = networks.Endpoints(pb.EndpointsRequest(container_id=c)).endpoints[0]
    assert got.port_bindings[0].host_port == port
    s = socket.socket()
    with pytest.raises(OSError):  # reserved again by the new process
        s.bind(("127.0.0.1", port))
    s.close()
    with pytest.raises(Conflict, match="port is already allocated"):
        attach(networks, cid(), ports=[("", port, 80)])
    networks.Detach(pb.DetachRequest(container_id=c, network="bridge"))
    with pytest.raises(OSError):
        get("http://127.0.0.1:%d/" % port, timeout=1)
    assert ":%d" % port not in iptables("nat") and "--dport %d " % port not in iptables("nat")
    s = socket.socket()
    s.bind(("127.0.0.1", port))  # released
    s.close()


def test_detach_of_a_network_the_container_is_not_on(networks):
    c = cid()
    attach(networks, c)
    networks.Create(pb.CreateNetworkRequest(name="it-other"))
    with pytest.raises(NotFound, match="container %s is not connected to network it-other" % c):
        networks.Detach(pb.DetachRequest(container_id=c, network="it-other"))
    networks.Detach(pb.DetachRequest(container_id=c))
    networks.Detach(pb.DetachRequest(container_id=c))  # leaving all stays idempotent
    networks.Remove(pb.GetNetworkRequest(ref="it-other"))


# ------------------------------------------------------------------ embedded DNS
def dig(netns_path, name, qtype="A"):
    """Ask 127.0.0.11 from inside the netns (dnslib, in a thread that entered the netns)."""
    def ask():
        return DNSRecord.parse(DNSRecord.question(name, qtype).send("127.0.0.11", 53, timeout=2))
    return netns.run_in(netns_path, ask)


def addrs(reply):
    return sorted(str(rr.rdata) for rr in reply.rr)


def nslookup(netns_path, name):
    r = subprocess.run(["nsenter", "--net=" + netns_path, "/bin/busybox", "nslookup", name,
                        "127.0.0.11"], capture_output=True, text=True, timeout=20)
    return r.stdout + r.stderr


def test_dns_names_aliases_short_ids_on_user_networks(stack, networks):
    net = networks.Create(pb.CreateNetworkRequest(name="it-dns"))
    stack.bridges.add(net.bridge_name)
    a, b, c = cid(), cid(), cid()
    ea = attach(networks, a, "it-dns", aliases=["web-alias"], container_name="srv")
    eb = attach(networks, b, "it-dns", container_name="client")
    ec = attach(networks, c, "bridge", container_name="plain")
    assert list(ea.dns_names) == ["srv", a[:12], "web-alias"] and list(ec.dns_names) == []
    assert "nameserver 127.0.0.11" in open(eb.resolv_conf_path).read()
    out = nslookup(eb.netns_path, "srv")
    assert "Address: %s" % ea.ip_address in out, out
    assert "Address: %s" % ea.ip_address in nslookup(eb.netns_path, "web-alias")
    assert addrs(dig(eb.netns_path, a[:12])) == [ea.ip_address]
    assert addrs(dig(eb.netns_path, "srv.it-dns")) == [ea.ip_address]
    assert addrs(dig(ea.netns_path, "client")) == [eb.ip_address]
    assert dig(eb.netns_path, "srv", "AAAA").header.rcode == RCODE.NOERROR
    t0 = time.monotonic()
    assert dig(eb.netns_path, "nothing-here").header.rcode == RCODE.NXDOMAIN
    assert time.monotonic() - t0 < 1.5
    # the default bridge has no embedded DNS
    with pytest.raises(OSError):
        dig(ec.netns_path, "srv")
    # connect: the bridge-only container now resolves, and is resolved
    ec2 = attach(networks, c, "it-dns", aliases=["late"])
    assert addrs(dig(ec.netns_path, "srv")) == [ea.ip_address]
    assert addrs(dig(eb.netns_path, "late")) == [ec2.ip_address]
    assert "nameserver 127.0.0.11" in open(ec.resolv_conf_path).read()
    # disconnect: its names are gone at once
    networks.Detach(pb.DetachRequest(container_id=a, network="it-dns"))
    assert dig(eb.netns_path, "srv").header.rcode == RCODE.NXDOMAIN
    # restart: sockets are recreated in every sandbox
    networks.restart()
    assert addrs(dig(eb.netns_path, "plain")) == [ec2.ip_address]
    assert addrs(dig(ec.netns_path, "client")) == [eb.ip_address]
    for x in (a, b, c):
        networks.Detach(pb.DetachRequest(container_id=x))
    assert not os.path.exists(eb.netns_path)
    networks.Remove(pb.GetNetworkRequest(ref="it-dns"))
