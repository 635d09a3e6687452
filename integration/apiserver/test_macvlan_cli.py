"""`docker network create -d macvlan` and containers on it through the docker CLI and the real
stack. The parent is a veth pair the test makes (never a host interface)."""

import json
import secrets

import pytest
from pyroute2 import IPRoute

import stackutil
from stackutil import NEEDS_REAL_STACK, cli, ok

pytestmark = NEEDS_REAL_STACK
IMAGE = "dy-it/macvlan:latest"
STACK_IMAGE = stackutil.BusyboxImage(IMAGE, ("sh", "sleep", "ping", "ip", "cat"))


@pytest.fixture
def parent():
    name = "mvc" + secrets.token_hex(3)
    with IPRoute() as ipr:
        ipr.link("add", ifname=name, kind="veth", peer={"ifname": name + "p"})
        for n in (name, name + "p"):
            ipr.link("set", index=ipr.link_lookup(ifname=n)[0], state="up")
    yield name
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            ipr.link("del", index=found[0])


def test_macvlan_network_containers_ping_by_name(st, parent):
    try:
        ok(cli(st, "network", "create", "-d", "macvlan", "--subnet", "10.77.0.0/24",
               "--gateway", "10.77.0.1", "-o", "parent=" + parent, "mv-cli"))
        r = cli(st, "network", "create", "-d", "macvlan", "-o", "parent=" + parent, "mv-cli2")
        assert r.returncode != 0 and "is already using parent interface " + parent in r.stderr
        r = cli(st, "network", "create", "-d", "macvlan", "-o", "macvlan_mode=foo", "mv-cli2")
        assert "requested macvlan mode 'foo' is not valid" in r.stderr
        ok(cli(st, "run", "-d", "--name", "mv-a", "--network", "mv-cli", IMAGE, "sleep", "300"))
        ok(cli(st, "run", "-d", "--name", "mv-b", "--network", "mv-cli", "-p", "18082:80",
               IMAGE, "sleep", "300"))
        ok(cli(st, "exec", "mv-a", "ping", "-c1", "-W2", "mv-b"))
        assert "default via 10.77.0.1 dev eth0" in ok(cli(st, "exec", "mv-a", "ip", "route"))
        info = json.loads(ok(cli(st, "network", "inspect", "mv-cli")))[0]
        assert info["Driver"] == "macvlan" and info["Options"] == {"parent": parent}
        assert info["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.1"}]
        eps = {c["Name"]: c for c in info["Containers"].values()}
        assert eps["mv-a"]["IPv4Address"] == "10.77.0.2/24"
        assert eps["mv-a"]["MacAddress"] == "02:42:0a:4d:00:02"
        ok(cli(st, "run", "-d", "--name", "mv-c", IMAGE, "sleep", "300"))
        ok(cli(st, "network", "connect", "mv-cli", "mv-c"))
        ok(cli(st, "exec", "mv-c", "ping", "-c1", "-W2", "mv-a"))
        ok(cli(st, "network", "disconnect", "mv-cli", "mv-c"))
        assert "eth1" not in ok(cli(st, "exec", "mv-c", "ip", "link"))
        r = cli(st, "network", "rm", "mv-cli")
        assert r.returncode != 0 and "active endpoints" in r.stderr
    finally:
        cli(st, "rm", "-f", "mv-a", "mv-b", "mv-c")
        cli(st, "network", "rm", "mv-cli")
