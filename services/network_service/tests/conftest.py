import os

import pytest

from dockyard_networks.config import NetConfig
from dockyard_networks.manager import HostFiles, NetworkManager
from dockyard_networks.portmap import PortAllocator


class FakeLinks:
    """Kernel state in dicts: sandboxes are plain files, links a name -> info map."""

    def __init__(self, routes=()):
        self.links = {}
        self.sandboxes = set()
        self.routes = list(routes)
        self.counter = 0

    def create_sandbox(self, path):
        assert path not in self.sandboxes
        open(path, "w").close()
        self.sandboxes.add(path)

    def remove_sandbox(self, path, host_veths=()):
        # The kernel drops the veth pairs with the namespace.
        for name in [n for n, info in self.links.items() if info.get("netns") == path]:
            del self.links[name]
        self.sandboxes.discard(path)
        if os.path.exists(path):
            os.unlink(path)

    def sandbox_alive(self, path):
        return path in self.sandboxes and os.path.exists(path)

    def link_exists(self, name):
        return name in self.links

    def ensure_bridge(self, name, gateway, prefixlen, gateway6=None, prefixlen6=0):
        info = self.links.setdefault(name, {"kind": "bridge",
                                            "addr": "%s/%d" % (gateway, prefixlen)})
        if gateway6:
            info["addr6"] = "%s/%d" % (gateway6, prefixlen6)

    def delete_link(self, name):
        return self.links.pop(name, None) is not None

    def host_routes(self):
        return list(self.routes)

    def add_endpoint(self, bridge, netns_path, ifname, mac, address, prefixlen, gateway=None,
                     address6=None, prefixlen6=0, gateway6=None):
        assert bridge in self.links and netns_path in self.sandboxes
        self.counter += 1
        host = "veth%07d" % self.counter
        self.links[host] = {"kind": "veth", "bridge": bridge, "netns": netns_path,
                            "ifname": ifname, "mac": mac, "addr": "%s/%d" % (address, prefixlen),
                            "gateway": str(gateway) if gateway else None}
        if address6:
            self.links[host].update(addr6="%s/%d" % (address6, prefixlen6),
                                    gateway6=str(gateway6) if gateway6 else None)
        return host

    def remove_endpoint(self, host_veth, netns_path="", ifname=""):
        if self.links.pop(host_veth, None) is None:  # a macvlan/ipvlan port: the netns side
            for name, info in list(self.links.items()):
                if (info.get("netns"), info.get("ifname")) == (netns_path, ifname):
                    del self.links[name]

    def set_default_route(self, netns_path, gateway, ifname, gateway6=None):
        for info in self.links.values():
            if info.get("netns") == netns_path and info.get("ifname") == ifname:
                info["gateway"] = str(gateway)
                if gateway6:
                    info["gateway6"] = str(gateway6)


class FakeBind:
    """Stands in for binding reservation sockets: `busy` ports fail as if another program had
    them; `held` is what is bound now."""

    def __init__(self, busy=()):
        self.busy = set(busy)
        self.held = set()

    def __call__(self, b):
        if (b.protocol, b.host_port) in self.busy:
            raise OSError(98, "Address already in use")
        self.held.add(b.key())
        return _FakeSocket(self, b.key())


class _FakeSocket:
    def __init__(self, owner, key):
        self.owner, self.key = owner, key

    def close(self):
        self.owner.held.discard(self.key)


@pytest.fixture
def binder():
    return FakeBind()


@pytest.fixture
def ports(binder):
    return PortAllocator(bind=binder, ephemeral=(49153, 49160), ipv6=False)


@pytest.fixture
def host_files(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "hosts").write_text("127.0.0.1 localhost\n192.0.2.2 myhost\n")
    (etc / "resolv.conf").write_text("search example.test\nnameserver 127.0.0.53\n"
                                     "nameserver 10.255.255.53\noptions edns0\n")
    files = HostFiles(hosts=str(etc / "hosts"), resolv_conf=str(etc / "resolv.conf"))
    files.hostname = lambda: "myhost"
    return files


@pytest.fixture
def cfg(tmp_path):
    return NetConfig(network_dir=str(tmp_path / "network"), netns_dir=str(tmp_path / "netns"),
                     bridge_name="dyu0", bridge_subnet="10.213.0.0/16", pool="10.214.0.0/16")


@pytest.fixture
def links():
    return FakeLinks()


@pytest.fixture
def manager(cfg, links, host_files, ports):
    os.makedirs(cfg.netns_dir, exist_ok=True)
    m = NetworkManager(cfg, links, host_files=host_files, ports=ports)
    m.reconcile()
    yield m
    m.store.close()
