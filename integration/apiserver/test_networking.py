"""Networking through the real stack: published ports held only while running, connect and
disconnect (running and stopped containers), none/host/container modes, restart counts."""

import os
import shutil
import socket
import time
import urllib.request

import pytest

from dockyard_common.testing import free_port

from stackutil import IMAGE, cli, ok

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
              pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]

WEB = "mkdir -p /www && echo %s > /www/index.html && exec httpd -f -p 8080 -h /www"


def fetch(port, tries=50):
    for _ in range(tries):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2) as resp:
                return resp.read()
        except OSError:
            time.sleep(0.1)
    raise AssertionError("nothing answers on 127.0.0.1:%d" % port)


def inspect(st, name):
    return st.client.api.inspect_container(name)


def test_published_port_is_held_only_while_running(st):
    port = free_port()
    ok(cli(st, "run", "-d", "--name", "pub1", "-p", "127.0.0.1:%d:8080" % port, IMAGE, "sh", "-c", WEB % "one"))
    assert fetch(port) == b"one\n"
    assert ok(cli(st, "port", "pub1", "8080/tcp")).strip() == "127.0.0.1:%d" % port
    assert inspect(st, "pub1")["NetworkSettings"]["Ports"] == {
        "80/tcp": None, "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    ok(cli(st, "stop", "-t", "1", "pub1"))
    info = inspect(st, "pub1")
    assert info["NetworkSettings"]["Ports"] == {} and info["NetworkSettings"]["IPAddress"] == ""
    # Docker frees the host port at stop: another container can take it.
    ok(cli(st, "run", "-d", "--name", "pub2", "-p", "127.0.0.1:%d:8080" % port, IMAGE, "sh", "-c", WEB % "two"))
    assert fetch(port) == b"two\n"
    r = cli(st, "start", "pub1")
    assert r.returncode != 0 and "port is already allocated" in r.stderr
    ok(cli(st, "rm", "-f", "pub2"))
    ok(cli(st, "start", "pub1"))
    assert fetch(port) == b"one\n"
    ok(cli(st, "rm", "-f", "pub1"))


def test_publish_all_and_ps_ports(st):
    ok(cli(st, "run", "-d", "--name", "puball", "-P", IMAGE, "sleep", "300"))
    binding = inspect(st, "puball")["NetworkSettings"]["Ports"]["80/tcp"][0]
    assert binding["HostIp"] == "0.0.0.0" and int(binding["HostPort"]) >= 49153
    listed = st.client.api.containers(filters={"name": "puball"})[0]["Ports"]
    # published on [::] too, as Docker 20.10 on an IPv6 host (the userland proxy's side)
    assert listed == [{"IP": ip, "PrivatePort": 80, "PublicPort": int(binding["HostPort"]),
                       "Type": "tcp"} for ip in ("0.0.0.0", "::")]
    ok(cli(st, "rm", "-f", "puball"))


def test_connect_disconnect_running_and_stopped(st):
    ok(cli(st, "network", "create", "it-net"))
    try:
        ok(cli(st, "run", "-d", "--name", "cn1", IMAGE, "sleep", "300"))
        ok(cli(st, "network", "connect", "--alias", "al1", "it-net", "cn1"))
        nets = inspect(st, "cn1")["NetworkSettings"]["Networks"]
        cid = inspect(st, "cn1")["Id"]
        assert set(nets) == {"bridge", "it-net"}
        assert nets["it-net"]["Aliases"] == ["al1", cid[:12]]
        assert set(nets["it-net"]["DNSNames"]) == {"cn1", cid[:12], "al1"}
        ip = nets["it-net"]["IPAddress"]
        assert "inet %s/24" % ip in ok(cli(st, "exec", "cn1", "ip", "-o", "-4", "addr", "show", "eth1"))
        members = st.client.api.inspect_network("it-net")["Containers"]
        assert members[cid]["Name"] == "cn1" and members[cid]["IPv4Address"] == ip + "/24"
        r = cli(st, "network", "connect", "it-net", "cn1")
        assert r.returncode != 0 and "already exists in network it-net" in r.stderr
        ok(cli(st, "network", "disconnect", "it-net", "cn1"))
        assert ok(cli(st, "exec", "cn1", "ls", "/sys/class/net")).split() == ["eth0", "lo"]
        r = cli(st, "network", "disconnect", "it-net", "cn1")
        assert r.returncode != 0 and "is not connected to network it-net" in r.stderr
        # a created container: the network is joined at start
        ok(cli(st, "create", "--name", "cn2", IMAGE, "sleep", "300"))
        ok(cli(st, "network", "connect", "it-net", "cn2"))
        assert inspect(st, "cn2")["NetworkSettings"]["Networks"]["it-net"]["IPAddress"] == ""
        ok(cli(st, "start", "cn2"))
        ip2 = inspect(st, "cn2")["NetworkSettings"]["Networks"]["it-net"]["IPAddress"]
        assert ip2 and "inet %s/" % ip2 in ok(cli(st, "exec", "cn2", "ip", "-o", "-4", "addr"))
        r = cli(st, "network", "rm", "bridge")
        assert r.returncode != 0 and "pre-defined network and cannot be removed" in r.stderr
    finally:
        cli(st, "rm", "-f", "cn1", "cn2")
        cli(st, "network", "rm", "it-net")


def test_none_host_and_container_modes(st):
    out = ok(cli(st, "run", "--rm", "--network", "none", IMAGE, "ls", "/sys/class/net"))
    assert out.split() == ["lo"]
    out = ok(cli(st, "run", "--rm", "--network", "host", IMAGE, "hostname"))
    assert out.strip() == socket.gethostname()
    ok(cli(st, "run", "-d", "--name", "owner", "--hostname", "owner-host", IMAGE, "sleep", "300"))
    ip = inspect(st, "owner")["NetworkSettings"]["IPAddress"]
    out = ok(cli(st, "run", "--rm", "--network", "container:owner", IMAGE, "sh", "-c",
                 "ip -o -4 addr show eth0; cat /etc/hostname"))
    assert "inet %s/" % ip in out and out.rstrip().endswith("owner-host")
    out = ok(cli(st, "run", "--rm", "--add-host", "db.internal:10.1.2.3", IMAGE, "cat", "/etc/hosts"))
    assert "10.1.2.3\tdb.internal" in out
    ok(cli(st, "rm", "-f", "owner"))


def test_restart_policy_counts_restarts(st):
    ok(cli(st, "run", "-d", "--name", "rc1", "--restart", "on-failure:2", IMAGE, "sh", "-c", "exit 3"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = inspect(st, "rc1")
        if info["RestartCount"] == 2 and info["State"]["Status"] == "exited":
            break
        time.sleep(0.2)
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 3
    ok(cli(st, "rm", "-f", "rc1"))
