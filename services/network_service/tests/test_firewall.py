import os

from dockyard_networks.firewall import Firewall
from dockyard_networks.manager import NetworkManager

NETS = [{"bridge": "a0", "subnet": "10.1.0.0/24", "internal": 0},
        {"bridge": "b0", "subnet": "10.2.0.0/24", "internal": 1}]
PORTS = [{"bridge": "a0", "ip": "10.1.0.2", "protocol": "tcp", "host_ip": "127.0.0.1",
          "host_port": 8080, "container_port": 80},
         {"bridge": "a0", "ip": "10.1.0.3", "protocol": "udp", "host_ip": "0.0.0.0",
          "host_port": 5353, "container_port": 53}]


def test_rules_isolate_bridges_and_masquerade_non_internal():
    r = Firewall.rules(NETS)
    filt, nat = r["filter"], r["nat"]
    assert "-i a0 -o b0 -j DROP" in filt and "-i b0 -o a0 -j DROP" in filt
    assert "-i a0 -o a0 -j ACCEPT" in filt and "-i b0 -o b0 -j ACCEPT" in filt
    assert "-i b0 ! -o b0 -j DROP" in filt
    assert filt.index("-i a0 -o b0 -j DROP") < filt.index("-i a0 ! -o a0 -j ACCEPT")
    assert nat == ["-s 10.1.0.0/24 ! -o a0 -j MASQUERADE"]
    assert r["dnat"] == [] and r["raw"] == []


def test_published_port_rules():
    r = Firewall.rules(NETS, PORTS)
    assert r["dnat"] == [
        "-d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80",
        "-p udp -m udp --dport 5353 -j DNAT --to-destination 10.1.0.3:53"]
    assert "-d 10.1.0.2/32 ! -i a0 -o a0 -p tcp -m tcp --dport 80 -j ACCEPT" in r["filter"]
    # accepts come after the isolation drops
    assert r["filter"].index("-i a0 -o b0 -j DROP") < r["filter"].index(
        "-d 10.1.0.2/32 ! -i a0 -o a0 -p tcp -m tcp --dport 80 -j ACCEPT")
    assert "-s 10.1.0.2/32 -d 10.1.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE" in r["nat"]
    assert r["nat"].count("-s 127.0.0.0/8 -o a0 -j MASQUERADE") == 1  # once per bridge
    assert r["raw"] == ["-d 127.0.0.0/8 -i a0 -j DROP"]


def test_render_is_one_restore_per_table_with_our_chains_only():
    text = Firewall("DYX").render(NETS, PORTS)
    assert text.count("COMMIT") == 3
    assert ":DYX-FORWARD - [0:0]" in text and ":DYX-PORTS - [0:0]" in text
    assert ":DYX-POSTROUTING - [0:0]" in text and ":DYX-PREROUTING - [0:0]" in text
    for line in text.splitlines():
        if line.startswith("-A"):
            assert line.split()[1].startswith("DYX-")
    assert "DOCKER" not in text and "docker0" not in text


class _Recorder:
    def __init__(self):
        self.nets = None
        self.ports = None

    def sync(self, nets, ports=()):
        self.nets, self.ports = nets, list(ports)


def test_manager_keeps_firewall_in_step(cfg, links, host_files, ports):
    os.makedirs(cfg.netns_dir, exist_ok=True)
    fw = _Recorder()
    m = NetworkManager(cfg, links, host_files=host_files, firewall=fw, ports=ports)
    m.reconcile()
    assert [n["bridge"] for n in fw.nets] == ["dyu0"]
    net, _ = m.create("u", internal=True)
    assert fw.nets[-1] == {"bridge": net["bridge_name"], "subnet": net["subnet"], "internal": 1}
    m.remove("u")
    assert [n["bridge"] for n in fw.nets] == ["dyu0"]
    ep = m.attach("c" * 64, "bridge", port_bindings=[{"host_port": 8080, "container_port": 80}])
    assert [(p["bridge"], p["ip"], p["host_ip"], p["host_port"], p["container_port"],
             p["protocol"]) for p in fw.ports] == [("dyu0", ep["ip"], "0.0.0.0", 8080, 80, "tcp")]
    m.detach("c" * 64, "")
    assert fw.ports == []


class _Broken:
    def sync(self, nets, ports=()):
        if ports:
            raise RuntimeError("iptables-restore: no such table")


def test_attach_fails_cleanly_when_nat_rules_cannot_be_written(cfg, links, host_files, ports,
                                                               binder):
    import pytest
    from dockyard_common.errors import FailedPrecondition
    os.makedirs(cfg.netns_dir, exist_ok=True)
    m = NetworkManager(cfg, links, host_files=host_files, firewall=_Broken(), ports=ports)
    m.reconcile()
    with pytest.raises(FailedPrecondition, match="driver failed programming external "
                                                 "connectivity.*no such table"):
        m.attach("c" * 64, "bridge", container_name="web",
                 port_bindings=[{"host_port": 8080, "container_port": 80}])
    assert m.store.sandbox("c" * 64) is None and m.store.ports() == []
    assert not binder.held and not links.sandboxes
