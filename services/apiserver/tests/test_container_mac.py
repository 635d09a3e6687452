"""--mac-address: Config.MacAddress and EndpointSettings.MacAddress as dockerd reconciles them."""

import pytest

from dockyard_apiserver.backend import container_mac as macs
from dockyard_apiserver.backend.container_networks import (check_endpoint_config, entry_config,
                                                           fill_runtime)
from dockyard_common import errors

MAC, OTHER = "02:42:ac:11:00:99", "02:42:ac:11:00:98"


def test_container_wide_address_goes_to_the_main_network():
    wanted = {}
    macs.reconcile({"MacAddress": MAC}, "default", "bridge", wanted, api_before_144=True)
    assert wanted == {"bridge": {"MacAddress": MAC}}
    wanted = {"mynet": {"Aliases": ["a"]}}
    macs.reconcile({"MacAddress": MAC}, "mynet", "mynet", wanted, api_before_144=False)
    assert wanted == {"mynet": {"Aliases": ["a"], "MacAddress": MAC}}


def test_per_network_address_needs_api_1_44():
    wanted = {"bridge": {"MacAddress": MAC}}
    macs.reconcile({}, "default", "bridge", wanted, api_before_144=True)
    assert wanted["bridge"]["MacAddress"] == ""
    wanted = {"bridge": {"MacAddress": MAC}}
    macs.reconcile({}, "default", "bridge", wanted, api_before_144=False)
    assert wanted["bridge"]["MacAddress"] == MAC


@pytest.mark.parametrize("config, mode, wanted, message", [
    ({"MacAddress": MAC}, "host", {}, macs.CONFLICT_MODE),
    ({"MacAddress": MAC}, "container:abc", {}, macs.CONFLICT_MODE),
    ({}, "host", {"host": {"MacAddress": MAC}}, macs.CONFLICT_MODE),
    ({"MacAddress": MAC}, "default", {"other": {}}, macs.NOT_MAIN),
    ({"MacAddress": MAC}, "default", {"bridge": {"MacAddress": OTHER}}, macs.MISMATCH),
    ({"MacAddress": "zz:42"}, "default", {}, "invalid endpoint settings:\ninvalid MAC address zz:42"),
    ({}, "default", {"bridge": {"MacAddress": "02:42:ac:11:00"}},
     "invalid endpoint settings:\ninvalid MAC address 02:42:ac:11:00"),
])
def test_errors_are_dockers(config, mode, wanted, message):
    primary = "bridge" if mode == "default" else mode
    with pytest.raises(errors.InvalidArgument) as exc:
        macs.reconcile(config, mode, primary, wanted, api_before_144=False)
    assert exc.value.message == message


def test_network_none_ignores_the_container_wide_address():
    wanted = {}
    macs.reconcile({"MacAddress": MAC}, "none", "none", wanted, api_before_144=True)
    assert wanted == {}


@pytest.mark.parametrize("value", [MAC, "02-42-AC-11-00-99", "0242.ac11.0099"])
def test_go_spellings_are_accepted(value):
    macs.check(value)


def test_entry_keeps_the_address_and_runtime_ipv6_fields():
    entry = entry_config({"MacAddress": MAC, "IPAMConfig": {"IPv6Address": "fd00::5"}})
    assert entry["MacAddress"] == MAC and entry["IPAMConfig"] == {"IPv6Address": "fd00::5"}
    with pytest.raises(errors.InvalidArgument, match="user defined networks only"):
        check_endpoint_config("bridge", entry)

    class Ep:
        network_id, endpoint_id, ip_address, prefix_len, gateway = "n", "e", "10.0.0.2", 24, "10.0.0.1"
        mac_address, dns_names = MAC, []
        ipv6_address, ipv6_prefix_len, ipv6_gateway = "fd00::2", 64, "fd00::1"
    fill_runtime(entry, Ep)
    assert (entry["ipv6_address"], entry["ipv6_prefix_len"], entry["ipv6_gateway"]) == (
        "fd00::2", 64, "fd00::1")
