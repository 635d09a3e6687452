"""`--mac-address` and IPv6 user networks through the whole stack with the docker CLI: the
address seen in the container and in inspect, ping -6 between containers, AAAA answers of the
embedded DNS, Docker's errors, and nothing left in the kernel after `network rm`."""

import json
import os
import shutil
import subprocess

import pytest

from dockyard_common.testing.rootfs import make_rootfs

import stackutil
from stackutil import cli, ok

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
              pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]

IMAGE = "dy-it/v6:latest"
APPLETS = ("sh", "cat", "sleep", "true", "ip", "ping", "nslookup", "grep")
MAC = "02:42:ac:11:00:99"


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")), ("tmp", "proc", "sys", "dev"),
                       commands=APPLETS)
    stack = stackutil.start(tmp_path_factory, image=IMAGE, root=root)
    yield stack
    stackutil.stop(stack)


def fails(r):
    assert r.returncode != 0, r.stdout
    return r.stderr


def inspect(st, name):
    return st.client.api.inspect_container(name)


def test_mac_address_on_run_and_in_inspect(st):
    out = ok(cli(st, "run", "--rm", "--mac-address", MAC, IMAGE, "cat", "/sys/class/net/eth0/address"))
    assert out.strip() == MAC
    ok(cli(st, "create", "--name", "mac1", "--mac-address", "02-42-AC-11-00-98", IMAGE,
           "sleep", "300"))
    try:
        assert inspect(st, "mac1")["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] \
            == "02-42-AC-11-00-98"  # configured, as given, until it runs
        ok(cli(st, "start", "mac1"))
        ns = inspect(st, "mac1")["NetworkSettings"]
        assert ns["MacAddress"] == ns["Networks"]["bridge"]["MacAddress"] == "02:42:ac:11:00:98"
        nets = st.client.api.inspect_network("bridge")["Containers"]
        assert [c["MacAddress"] for c in nets.values()] == ["02:42:ac:11:00:98"]
        ok(cli(st, "restart", "-t", "0", "mac1"))
        assert ok(cli(st, "exec", "mac1", "cat", "/sys/class/net/eth0/address")).strip() \
            == "02:42:ac:11:00:98"
    finally:
        cli(st, "rm", "-f", "mac1")


def test_mac_address_errors(st):
    api = st.client.api
    with pytest.raises(Exception) as exc:  # past the CLI's own check: the daemon's
        api.create_container(IMAGE, networking_config={"EndpointsConfig": {"bridge": {
            "MacAddress": "zz:42"}}})
    assert "invalid endpoint settings:\ninvalid MAC address zz:42" in str(exc.value)
    err = fails(cli(st, "run", "--rm", "--network", "host", "--mac-address", MAC, IMAGE, "true"))
    assert "conflicting options: mac-address and the network mode" in err
    err = fails(cli(st, "run", "--rm", "--mac-address", "01:00:00:00:00:01", IMAGE, "true"))
    assert "cannot assign requested address" in err


def test_ipv6_network_addresses_ping_dns_and_removal(st):
    err = fails(cli(st, "network", "create", "--ipv6", "v6-nosubnet"))
    assert "could not find an available, non-overlapping IPv6 address pool" in err
    ok(cli(st, "network", "create", "--ipv6", "--subnet", "fd00:dead:beef::/64",
           "--subnet", "10.77.0.0/24", "v6net"))
    try:
        net = st.client.api.inspect_network("v6net")
        assert net["EnableIPv6"] is True
        assert [c["Subnet"] for c in net["IPAM"]["Config"]] == ["10.77.0.0/24",
                                                               "fd00:dead:beef::/64"]
        err = fails(cli(st, "network", "create", "--ipv6", "--subnet", "fd00:dead:beef::/80",
                        "v6-overlap"))
        assert "Pool overlaps with other one on this address space" in err
        ok(cli(st, "run", "-d", "--name", "v6a", "--network", "v6net", IMAGE, "sleep", "300"))
        ok(cli(st, "run", "-d", "--name", "v6b", "--network", "v6net", "--ip6",
               "fd00:dead:beef::99", IMAGE, "sleep", "300"))
        ep = inspect(st, "v6b")["NetworkSettings"]["Networks"]["v6net"]
        assert (ep["GlobalIPv6Address"], ep["GlobalIPv6PrefixLen"], ep["IPv6Gateway"]) == (
            "fd00:dead:beef::99", 64, "fd00:dead:beef::1")
        assert ep["IPAMConfig"] == {"IPv6Address": "fd00:dead:beef::99"}
        assert inspect(st, "v6a")["NetworkSettings"]["Networks"]["v6net"]["GlobalIPv6Address"] \
            == "fd00:dead:beef::2"
        members = st.client.api.inspect_network("v6net")["Containers"]
        assert sorted(c["IPv6Address"] for c in members.values()) == [
            "fd00:dead:beef::2/64", "fd00:dead:beef::99/64"]
        out = ok(cli(st, "exec", "v6a", "ping", "-6", "-c1", "-W2", "v6b"))
        assert "fd00:dead:beef::99" in out and "1 packets received" in out
        out = ok(cli(st, "exec", "v6b", "ping", "-6", "-c1", "-W2", "fd00:dead:beef::2"))
        assert "1 packets received" in out
        out = ok(cli(st, "exec", "v6a", "nslookup", "-type=aaaa", "v6b", "127.0.0.11"))
        assert "Address: fd00:dead:beef::99" in out, out
        assert "fd00:dead:beef::2\t" in ok(cli(st, "exec", "v6a", "cat", "/etc/hosts"))
        err = fails(cli(st, "run", "--rm", "--network", "v6net", "--ip6", "fd00:dead:beef::99",
                        IMAGE, "true"))
        assert "Address already in use" in err
        err = fails(cli(st, "run", "--rm", "--ip6", "fd00::5", IMAGE, "true"))
        assert "user specified IP address is supported on user defined networks only" in err
        # the default bridge stays IPv4-only
        out = ok(cli(st, "run", "--rm", IMAGE, "ip", "-6", "addr", "show", "scope", "global"))
        assert "inet6" not in out
    finally:
        cli(st, "rm", "-f", "v6a", "v6b")
    bridge = "br-" + net["Id"][:12]
    ok(cli(st, "network", "rm", "v6net"))
    links = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout
    assert bridge not in [link["ifname"] for link in json.loads(links)]
    prefix = st.env["DOCKYARD_IPTABLES_CHAIN_PREFIX"]
    assert prefix not in subprocess.run(["ip6tables", "-w", "-S"], capture_output=True,
                                        text=True).stdout
