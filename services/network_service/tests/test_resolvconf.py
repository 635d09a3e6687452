"""resolv.conf rendering, checked against what Docker 20.10 writes (outputs taken from the real
engine with a host file of "nameserver 10.255.255.53")."""

import pytest

from dockyard_networks import resolvconf

HOST = "search example.test\nnameserver 127.0.0.53\nnameserver 10.255.255.53\noptions edns0\n"
PLAIN_HOST = "nameserver 10.255.255.53\n"


def test_default_bridge_drops_local_nameservers():
    out = resolvconf.render_resolv_conf(HOST)
    assert "127.0.0.53" not in out
    assert "nameserver 10.255.255.53" in out
    assert "search example.test" in out and "options edns0" in out


def test_default_bridge_falls_back_to_google():
    out = resolvconf.render_resolv_conf("nameserver 127.0.0.1\nsearch lan\n")
    assert out.splitlines() == ["search lan", "nameserver 8.8.8.8", "nameserver 8.8.4.4"]


def test_embedded_dns_keeps_search_and_options_and_adds_ndots0():
    out = resolvconf.render_resolv_conf(HOST, embedded_dns=True)
    assert out == "search example.test\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
    out = resolvconf.render_resolv_conf(PLAIN_HOST, embedded_dns=True)
    assert out == "nameserver 127.0.0.11\noptions ndots:0\n"


@pytest.mark.parametrize("flags, expected", [
    # docker run --dns 9.9.9.9 --dns 1.1.1.1 --dns-search example.com --dns-search foo.org
    #   --dns-option ndots:2 --dns-option timeout:3
    ({"dns": ["9.9.9.9", "1.1.1.1"], "dns_search": ["example.com", "foo.org"],
      "dns_options": ["ndots:2", "timeout:3"]},
     "search example.com foo.org\nnameserver 9.9.9.9\nnameserver 1.1.1.1\n"
     "options ndots:2 timeout:3\n"),
    ({"dns": ["9.9.9.9"]}, "nameserver 9.9.9.9\n"),
    ({"dns_search": ["example.com"]}, "search example.com\nnameserver 10.255.255.53\n"),
    ({"dns_options": ["ndots:2"]}, "nameserver 10.255.255.53\noptions ndots:2\n"),
    ({"dns_search": ["."]}, "nameserver 10.255.255.53\n"),       # "." = no search line
    ({}, PLAIN_HOST),
])
def test_default_bridge_and_none_with_flags(flags, expected):
    assert resolvconf.sandbox_resolv_conf(PLAIN_HOST, **flags) == expected


def test_flags_replace_only_their_own_part_of_the_host_file():
    out = resolvconf.sandbox_resolv_conf(HOST, dns=["9.9.9.9"])
    assert out == "search example.test\nnameserver 9.9.9.9\noptions edns0\n"
    # as libnetwork: with any flag the host's nameservers are taken as they are
    out = resolvconf.sandbox_resolv_conf(HOST, dns_options=["timeout:1"])
    assert out == ("search example.test\nnameserver 127.0.0.53\nnameserver 10.255.255.53\n"
                   "options timeout:1\n")


@pytest.mark.parametrize("flags, expected", [
    ({"dns": ["9.9.9.9"], "dns_search": ["example.com"], "dns_options": ["ndots:2"]},
     "search example.com\nnameserver 127.0.0.11\noptions ndots:2\n"),
    ({"dns": ["9.9.9.9"]}, "nameserver 127.0.0.11\noptions ndots:0\n"),
    ({"dns_search": ["example.com"]}, "search example.com\nnameserver 127.0.0.11\noptions ndots:0\n"),
    ({"dns_options": ["ndots:2"]}, "nameserver 127.0.0.11\noptions ndots:2\n"),
    ({"dns_options": ["timeout:3"]}, "nameserver 127.0.0.11\noptions timeout:3 ndots:0\n"),
    # IPv6 servers stay in the file (the embedded DNS forwards IPv4 ones only)
    ({"dns": ["9.9.9.9", "2001:db8::1"], "dns_search": ["."]},
     "nameserver 127.0.0.11\nnameserver 2001:db8::1\noptions ndots:0\n"),
])
def test_user_network_with_flags(flags, expected):
    current = resolvconf.sandbox_resolv_conf(PLAIN_HOST, **flags)
    assert resolvconf.embedded_resolv_conf(current) == expected


@pytest.mark.parametrize("bad", ["ndots:abc", "ndots:-1", "ndots"])
def test_bad_ndots_is_refused(bad):
    with pytest.raises(ValueError):
        resolvconf.embedded_resolv_conf(resolvconf.sandbox_resolv_conf(PLAIN_HOST,
                                                                       dns_options=[bad]))


def test_host_mode_copies_the_host_file_unless_flags():
    assert resolvconf.host_mode_resolv_conf(HOST) == HOST
    out = resolvconf.host_mode_resolv_conf(PLAIN_HOST, dns=["9.9.9.9"], dns_search=["example.com"],
                                           dns_options=["ndots:2"])
    assert out == "search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"


def test_parsing_follows_libnetwork():
    text = ("# comment\nnameserver 10.0.0.1 # trailing\nnameserver fe80::1%eth0\n"
            "nameserver bogus\nsearch a b\nsearch c\noptions x\noptions y z\n")
    assert resolvconf.nameservers(text) == ["10.0.0.1", "fe80::1"]
    assert resolvconf.nameservers(text, family=4) == ["10.0.0.1"]
    assert resolvconf.nameservers(text, family=6) == ["fe80::1"]
    assert resolvconf.search_domains(text) == ["c"]        # the last line wins
    assert resolvconf.options(text) == ["y", "z"]
    assert resolvconf.is_embedded("nameserver 127.0.0.11\n")
    assert not resolvconf.is_embedded(PLAIN_HOST)
