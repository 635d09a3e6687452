from dockyard_networks.firewall import Firewall

from conftest import FakeLinks  # noqa: F401  (same package of fakes)


def test_rules_isolate_bridges_and_masquerade_non_internal():
    filt, nat = Firewall.rules([{"bridge": "a0", "subnet": "10.1.0.0/24", "internal": 0},
                                {"bridge": "b0", "subnet": "10.2.0.0/24", "internal": 1}])
    assert "-i a0 -o b0 -j DROP" in filt and "-i b0 -o a0 -j DROP" in filt
    assert "-i a0 -o a0 -j ACCEPT" in filt and "-i b0 -o b0 -j ACCEPT" in filt
    assert "-i b0 ! -o b0 -j DROP" in filt
    assert filt.index("-i a0 -o b0 -j DROP") < filt.index("-i a0 ! -o a0 -j ACCEPT")
    assert nat == ["-s 10.1.0.0/24 ! -o a0 -j MASQUERADE"]


class _Recorder:
    def __init__(self):
        self.nets = None

    def sync(self, nets):
        self.nets = nets


def test_manager_keeps_firewall_in_step(cfg, links, host_files):
    import os
    from dockyard_networks.manager import NetworkManager
    os.makedirs(cfg.netns_dir, exist_ok=True)
    fw = _Recorder()
    m = NetworkManager(cfg, links, host_files=host_files, firewall=fw)
    m.reconcile()
    assert [n["bridge"] for n in fw.nets] == ["dyu0"]
    net, _ = m.create("u", internal=True)
    assert fw.nets[-1] == {"bridge": net["bridge_name"], "subnet": net["subnet"], "internal": 1}
    m.remove("u")
    assert [n["bridge"] for n in fw.nets] == ["dyu0"]
