"""Network inspect's IPAM.Config shows the IPv4 config as the user gave it (dockerd 20.10)."""

from dockyard_networks.server import network_pb


def _ipam(manager, name, configs):
    net = manager.create(name, ipam_configs=configs)[0]
    return [(c.subnet, c.gateway) for c in network_pb(net, [], manager).ipam], net


def test_a_subnet_without_gateway_is_shown_without_one_but_has_one(manager):
    shown, net = _ipam(manager, "n1", [{"subnet": "10.99.0.0/24"}])
    assert shown == [("10.99.0.0/24", "")]
    assert net["gateway"] == "10.99.0.1"        # the bridge still gets its address


def test_a_given_gateway_and_a_pool_subnet_show_their_gateway(manager):
    assert _ipam(manager, "n2", [{"subnet": "10.98.0.0/24", "gateway": "10.98.0.254"}])[0] == [
        ("10.98.0.0/24", "10.98.0.254")]
    shown, net = _ipam(manager, "n3", [])
    assert shown == [(net["subnet"], net["gateway"])] and net["gateway"]
