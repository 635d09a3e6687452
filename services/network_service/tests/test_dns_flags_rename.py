"""--dns/--dns-search/--dns-option and `docker rename` in the manager (fake kernel, fake DNS),
the records they give the embedded DNS, and the server's choice of upstream."""

import os
import socket
import sqlite3

import pytest
from dnslib import RCODE, DNSRecord

from dockyard_common.errors import NotFound
from dockyard_networks import dnsrecords
from dockyard_networks.dnsserver import DnsServer
from dockyard_networks.manager import NetworkManager
from dockyard_networks.store import Store

from test_dns import FakeUpstream, LoopbackSockets, udp_query
from test_manager_ports_dns import FakeDns

C1, C2 = "a" * 64, "b" * 64
FLAGS = {"dns": ["9.9.9.9", "2001:db8::1"], "dns_search": ["example.com"],
         "dns_options": ["ndots:2"]}


@pytest.fixture
def dm(cfg, links, host_files, ports):
    os.makedirs(cfg.netns_dir, exist_ok=True)
    dns = FakeDns()
    m = NetworkManager(cfg, links, host_files=host_files, ports=ports, dns=dns)
    m.reconcile()
    yield m, dns
    m.store.close()


def resolv(ep):
    return open(ep["resolv_conf_path"]).read()


def test_default_bridge_uses_the_flags(dm):
    m, _ = dm
    ep = m.attach(C1, "bridge", **FLAGS)
    assert resolv(ep) == ("search example.com\nnameserver 9.9.9.9\nnameserver 2001:db8::1\n"
                          "options ndots:2\n")
    sb = m.store.sandbox(C1)
    assert (sb["dns"], sb["dns_search"], sb["dns_options"]) == (
        FLAGS["dns"], FLAGS["dns_search"], FLAGS["dns_options"])


def test_user_network_embedded_dns_forwards_to_own_ipv4_servers(dm):
    m, dns = dm
    m.create("app")
    # as the apiserver does: the sandbox is made on "none" at create, the network joined at start
    m.attach(C1, "none", container_name="web", **FLAGS)
    m.detach(C1, "none")
    ep = m.attach(C1, "app", container_name="web")
    assert resolv(ep) == ("search example.com\nnameserver 127.0.0.11\nnameserver 2001:db8::1\n"
                          "options ndots:2\n")
    assert dns.records.upstreams == {C1: [("9.9.9.9", 53)]}
    assert C1 in dns.records.ndots
    # a restart (leave, join again) keeps the file
    m.detach(C1, "app")
    assert resolv(m.attach(C1, "app")) == resolv(ep)


def test_user_network_without_flags_uses_the_services_upstreams(dm):
    m, dns = dm
    m.create("app")
    ep = m.attach(C2, "app", container_name="client")
    assert resolv(ep) == "search example.test\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
    assert dns.records.upstreams == {} and C2 not in dns.records.ndots


def test_bad_ndots_leaves_the_file_without_the_embedded_dns(dm):
    m, _ = dm
    m.create("app")
    ep = m.attach(C1, "app", dns_options=["ndots:abc"])
    assert "127.0.0.11" not in resolv(ep) and "options ndots:abc" in resolv(ep)


def test_host_mode(dm):
    m, _ = dm
    ep = m.attach(C1, "host", dns=["9.9.9.9"], dns_search=["example.com"],
                  dns_options=["ndots:2"])
    assert resolv(ep) == "search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"
    ep = m.attach(C2, "host")
    assert "nameserver 127.0.0.53" in resolv(ep)   # a plain copy of the host's file


def test_rename_changes_the_dns_names_not_the_aliases(dm):
    m, dns = dm
    m.create("app")
    m.attach(C1, "app", container_name="old", aliases=["al1"])
    m.attach(C2, "app", container_name="client")
    assert dns.records.lookup(C2, "old")
    views = m.rename(C1, "new")
    assert views[0]["dns_names"] == ["new", C1[:12], "al1"] and views[0]["container_name"] == "new"
    assert dns.records.lookup(C2, "new") and dns.records.lookup(C2, "al1")
    assert dns.records.lookup(C2, "old") is None
    assert dns.records.reverse(C2, ".".join(reversed(views[0]["ip"].split("."))) +
                               ".in-addr.arpa") == "new.app"
    with pytest.raises(NotFound):
        m.rename("f" * 64, "x")


def test_attach_catches_up_with_a_missed_rename(dm):
    m, dns = dm
    m.create("app")
    m.attach(C1, "none", container_name="old")
    m.detach(C1, "none")
    m.attach(C1, "app", container_name="new")
    assert m.store.sandbox(C1)["container_name"] == "new"


def test_an_older_network_db_gets_the_dns_columns(tmp_path):
    path = str(tmp_path / "network.db")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE sandboxes (container_id TEXT PRIMARY KEY, netns_path TEXT NOT NULL,"
               " files_dir TEXT NOT NULL, hostname TEXT NOT NULL DEFAULT '', domainname TEXT NOT"
               " NULL DEFAULT '', extra_hosts TEXT NOT NULL DEFAULT '[]', container_name TEXT NOT"
               " NULL DEFAULT '', mode TEXT NOT NULL DEFAULT 'netns')")
    db.execute("INSERT INTO sandboxes (container_id, netns_path, files_dir) VALUES ('c', 'n', 'f')")
    db.commit()
    db.close()
    store = Store(path)
    assert store.sandbox("c")["dns"] == [] and store.sandbox("c")["dns_options"] == []
    store.close()


# ------------------------------------------------------------------ records and answers
NETS = [{"id": "n-app", "name": "app", "driver": "bridge", "predefined": 0, "internal": 0}]
EPS = [{"container_id": C1, "network_id": "n-app", "ip": "10.5.0.2", "aliases": []},
       {"container_id": C2, "network_id": "n-app", "ip": "10.5.0.3", "aliases": []}]


def sandboxes(dns=(), dns_options=()):
    return [{"container_id": C1, "container_name": "one", "mode": "netns", "dns": list(dns),
             "dns_search": [], "dns_options": list(dns_options)},
            {"container_id": C2, "container_name": "two", "mode": "netns"}]


def ask(rec, cid, name, qtype="A"):
    out = dnsrecords.answer(rec, cid, DNSRecord.question(name, qtype).pack(), can_forward=True)
    return out if out == dnsrecords.FORWARD else DNSRecord.parse(out)


def test_records_take_ipv4_dns_servers_and_ndots():
    rec = dnsrecords.build(NETS, EPS, sandboxes(["2001:db8::1", "9.9.9.9", "bogus"],
                                                ["ndots:3"]))
    assert rec.upstreams == {C1: [("9.9.9.9", 53)]}
    assert rec.ndots == {C1}
    # the host's options count when the container gave none
    rec = dnsrecords.build(NETS, EPS, sandboxes(), host_options=["ndots:1"])
    assert rec.ndots == {C1, C2}


def test_ndots_set_keeps_single_label_names_home():
    rec = dnsrecords.build(NETS, EPS, sandboxes(dns_options=["ndots:2"]))
    r = ask(rec, C1, "elsewhere")
    assert r.header.rcode == RCODE.NOERROR and r.rr == []
    assert ask(rec, C1, "elsewhere.example.org") == dnsrecords.FORWARD
    assert ask(rec, C1, "two").rr                        # ours still answer
    assert ask(rec, C2, "elsewhere") == dnsrecords.FORWARD


def test_server_forwards_to_the_containers_own_servers_from_its_netns():
    own, default = FakeUpstream(), FakeUpstream()
    opener = LoopbackSockets()
    made = []

    def new_upstream(family, netns_path):
        made.append(netns_path)
        return socket.socket(family, socket.SOCK_DGRAM)

    dns = DnsServer(upstreams=[default.addr], open_sockets=opener, new_upstream=new_upstream)
    dns.start()
    try:
        rec = dnsrecords.build(NETS, EPS, sandboxes())
        rec.upstreams[C1] = [own.addr]   # (own servers listen on port 53; here a free port)
        dns.update(rec, {C1: "/ns/1", C2: "/ns/2"})
        assert udp_query(opener.opened["/ns/1"][0], "example.org").rr
        assert own.seen == ["example.org."] and default.seen == [] and made == ["/ns/1"]
        assert udp_query(opener.opened["/ns/2"][0], "example.net").rr
        assert default.seen == ["example.net."] and made == ["/ns/1", None]
    finally:
        dns.close()
        own.close()
        default.close()
