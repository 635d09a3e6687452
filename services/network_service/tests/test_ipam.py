import ipaddress as ipa

import pytest

from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument
from dockyard_networks import ipam

NET = ipa.ip_network("10.1.2.0/29")  # hosts .1-.6
GW = ipa.ip_address("10.1.2.1")


def test_allocates_lowest_free_skipping_gateway():
    assert str(ipam.allocate(NET, GW, set())) == "10.1.2.2"
    taken = {ipa.ip_address("10.1.2.2"), ipa.ip_address("10.1.2.3")}
    assert str(ipam.allocate(NET, GW, taken)) == "10.1.2.4"


def test_exhaustion():
    taken = {ipa.ip_address("10.1.2.%d" % i) for i in range(2, 7)}
    with pytest.raises(FailedPrecondition, match="no available IPv4 addresses"):
        ipam.allocate(NET, GW, taken, network_name="n1")


def test_released_address_is_reused():
    taken = {ipa.ip_address("10.1.2.%d" % i) for i in (2, 4)}
    assert str(ipam.allocate(NET, GW, taken)) == "10.1.2.3"


def test_requested_address():
    req = ipa.ip_address("10.1.2.5")
    assert ipam.allocate(NET, GW, set(), requested=req) == req
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.allocate(NET, GW, {req}, requested=req)
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.allocate(NET, GW, set(), requested=GW)
    with pytest.raises(InvalidArgument, match="no configured subnet or ip-range contain"):
        ipam.allocate(NET, GW, set(), requested=ipa.ip_address("10.9.9.9"))
    with pytest.raises(InvalidArgument):
        ipam.allocate(NET, GW, set(), requested=NET.broadcast_address)


def test_ip_range_limits_dynamic_addresses():
    net = ipa.ip_network("10.1.0.0/24")
    got = ipam.allocate(net, ipa.ip_address("10.1.0.1"), set(), ip_range="10.1.0.128/25")
    assert str(got) == "10.1.0.129"


def test_choose_subnet_skips_used_and_routes():
    used = [ipa.ip_network("10.214.0.0/24"), ipa.ip_network("10.214.1.0/25")]
    assert str(ipam.choose_subnet("10.214.0.0/16", 24, used)) == "10.214.2.0/24"
    with pytest.raises(FailedPrecondition, match="non-overlapping"):
        ipam.choose_subnet("10.214.0.0/23", 24, used)


def test_overlap_and_gateway_checks():
    with pytest.raises(Conflict, match="overlaps"):
        ipam.check_overlap(ipa.ip_network("10.213.5.0/24"), [ipa.ip_network("10.213.0.0/16")])
    ipam.check_overlap(ipa.ip_network("10.215.5.0/24"), [ipa.ip_network("10.213.0.0/16")])
    with pytest.raises(InvalidArgument, match="no matching subnet for gateway"):
        ipam.check_gateway(NET, ipa.ip_address("10.1.3.1"))


def test_parse_subnet():
    assert str(ipam.parse_subnet("10.1.2.0/24")) == "10.1.2.0/24"
    with pytest.raises(InvalidArgument, match="invalid CIDR"):
        ipam.parse_subnet("nope")
    with pytest.raises(InvalidArgument, match="it should be 10.1.2.0/24"):
        ipam.parse_subnet("10.1.2.3/24")


def test_mac_is_dockers_classic_form():
    assert ipam.mac_for(ipa.ip_address("172.17.0.2")) == "02:42:ac:11:00:02"
