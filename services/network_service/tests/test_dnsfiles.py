import os

import pytest

from dockyard_networks import dnsfiles


def test_hosts_file():
    text = dnsfiles.render_hosts(["10.213.0.2"], "abc123", extra_hosts=["db.internal:10.1.2.3"])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert lines[1] == "::1\tlocalhost ip6-localhost ip6-loopback"
    assert lines[-2].split() == ["10.1.2.3", "db.internal"]
    assert lines[-1].split() == ["10.213.0.2", "abc123"]


def test_hosts_file_domain_and_ipv6_extra_host():
    text = dnsfiles.render_hosts(["10.0.0.2"], "web", "example.org", ["v6:fe80::1"])
    assert "fe80::1\tv6" in text
    assert "10.0.0.2\tweb.example.org web" in text


def test_hosts_file_without_address():
    assert "abc" not in dnsfiles.render_hosts([], "abc")


def test_bad_extra_host():
    with pytest.raises(ValueError):
        dnsfiles.parse_extra_host("nocolon")


def test_write_in_place_keeps_inode(tmp_path):
    p = str(tmp_path / "hosts")
    dnsfiles.write_in_place(p, "a long first version\n")
    ino = os.stat(p).st_ino
    dnsfiles.write_in_place(p, "short\n")
    assert os.stat(p).st_ino == ino
    assert open(p).read() == "short\n"
