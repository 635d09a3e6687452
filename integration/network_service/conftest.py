"""A network-service process on a private root (root: netns, bridges, veths)."""

import os
import subprocess
import sys

import pytest
from pyroute2 import IPRoute

from dockyard_api.networks.v1 import networks_pb2_grpc
from dockyard_common import grpcutil
from dockyard_common.testing.stack import TestStack


def links_on(bridges):
    """Names of the bridges that exist and of every link enslaved to them."""
    out = set()
    with IPRoute() as ipr:
        index = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
        for l in ipr.get_links():
            name = l.get_attr("IFLA_IFNAME")
            if name in bridges or index.get(l.get_attr("IFLA_MASTER")) in bridges:
                out.add(name)
    return out


def run_teardown(stack):
    subprocess.run([sys.executable, "-m", "dockyard_networks.teardown"], env=stack.env,
                   check=True, timeout=60)


class Networks:
    """A client that reconnects after the service restarts."""

    def __init__(self, stack):
        self.stack = stack
        self._client = None

    def __getattr__(self, name):
        if self._client is None:
            self._client = grpcutil.Client(networks_pb2_grpc.NetworksStub,
                                           self.stack.layout.grpc_target("network"))
        return getattr(self._client, name)

    def restart(self):
        self.close()
        self.stack.stop_service("network")
        self.stack.start_service("network")

    def close(self):
        if self._client is not None:
            self._client.channel.close()
            self._client = None


@pytest.fixture
def stack():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    # No resolver upstream: tests only ask our names, and nothing may leave this machine.
    with TestStack(services=["network"], extra_env={"DOCKYARD_DNS_UPSTREAMS": "none"}) as s:
        s.bridges = {s.env["DOCKYARD_BRIDGE_NAME"]}
        try:
            yield s
        finally:
            s.stop_service("network")
            ours = links_on(s.bridges)
            run_teardown(s)
            netns_dir = s.env["DOCKYARD_NETNS_DIR"]
            left_links = links_on(s.bridges) | (ours & _all_links())
            left_ns = os.listdir(netns_dir) if os.path.isdir(netns_dir) else []
            assert not left_links, "teardown left links: %s" % left_links
            assert not left_ns, "teardown left netns files: %s" % left_ns
            prefix = s.env["DOCKYARD_IPTABLES_CHAIN_PREFIX"]
            for binary, table in (("iptables", "filter"), ("iptables", "nat"),
                                  ("iptables", "raw"), ("ip6tables", "filter")):
                rules = subprocess.run([binary, "-w", "-t", table, "-S"], capture_output=True,
                                       text=True).stdout
                assert prefix not in rules, "teardown left %s rules:\n%s" % (binary, rules)


def _all_links():
    with IPRoute() as ipr:
        return {l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}


class Procs:
    """Test servers started inside sandboxes (nsenter --net=...); killed before teardown, as
    they hold their netns."""

    def __init__(self):
        self.procs = []

    def start(self, netns_path, *argv):
        p = subprocess.Popen(["nsenter", "--net=" + netns_path, *argv],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


@pytest.fixture
def procs(stack):
    p = Procs()
    yield p
    p.stop_all()


@pytest.fixture
def networks(stack):
    n = Networks(stack)
    yield n
    n.close()
