"""dockyard_common.platforms against what dockerd 20.10 (containerd 1.6 platforms) does."""

import pytest

from dockyard_common import errors, platforms
from dockyard_common.platforms import Platform


@pytest.fixture
def amd64_host(monkeypatch):
    monkeypatch.setattr(platforms._host, "machine", lambda: "x86_64")


@pytest.mark.parametrize("spec, want", [
    ("linux/amd64", "linux/amd64"),
    ("Linux/AMD64", "linux/amd64"),
    ("linux/x86_64", "linux/amd64"),
    ("linux/amd64/v1", "linux/amd64"),
    ("linux/amd64/v2", "linux/amd64/v2"),
    ("linux/arm64", "linux/arm64"),
    ("linux/aarch64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64/v8"),     # a 3-part arm64 keeps (or gets) v8
    ("linux/arm64/8", "linux/arm64/v8"),
    ("linux/arm", "linux/arm"),               # v7 is implied, and left out
    ("linux/arm/v7", "linux/arm/v7"),
    ("linux/arm/6", "linux/arm/v6"),
    ("linux/armhf", "linux/arm"),
    ("linux/armel", "linux/arm/v6"),
    ("linux/i386", "linux/386"),
    ("linux/bogus", "linux/bogus"),           # two parts: any architecture
    ("windows/amd64", "windows/amd64"),
    ("arm64", "linux/arm64"),
    ("s390x", "linux/s390x"),
    ("linux", "linux/amd64"),                 # an OS alone takes the host's architecture
])
def test_parse_and_format(amd64_host, spec, want):
    assert str(platforms.parse(spec)) == want


@pytest.mark.parametrize("spec, message", [
    ("foo", '"foo": unknown operating system or architecture: invalid argument'),
    ("a/b/c/d", '"a/b/c/d": cannot parse platform specifier: invalid argument'),
    ("linux/a b", '"a b" is an invalid component of "linux/a b": platform specifier component '
                  'must match "^[A-Za-z0-9_-]+$": invalid argument'),
    ("linux/", '"" is an invalid component of "linux/": platform specifier component must match '
               '"^[A-Za-z0-9_-]+$": invalid argument'),
    ("linux/*", '"linux/*": wildcards not yet supported: invalid argument'),
])
def test_parse_errors_are_dockerds(spec, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        platforms.parse(spec)
    assert exc.value.message == message


@pytest.mark.parametrize("machine, want", [
    ("x86_64", "linux/amd64"), ("aarch64", "linux/arm64/v8"), ("armv7l", "linux/arm/v7"),
    ("armv6l", "linux/arm/v6"), ("s390x", "linux/s390x"), ("ppc64le", "linux/ppc64le"),
])
def test_host_platform_has_the_arm_variant(monkeypatch, machine, want):
    monkeypatch.setattr(platforms._host, "machine", lambda: machine)
    monkeypatch.setattr(platforms, "_arm_variant", lambda: "")
    assert str(platforms.host()) == want


def test_host_arm_variant_from_cpuinfo(monkeypatch):
    monkeypatch.setattr(platforms._host, "machine", lambda: "armv7l")
    monkeypatch.setattr(platforms, "_arm_variant", lambda: "v6")
    assert str(platforms.host()) == "linux/arm/v6"


@pytest.mark.parametrize("wanted, image, ok", [
    ("linux/amd64", Platform("linux", "amd64"), True),
    ("linux/amd64/v2", Platform("linux", "amd64"), True),     # v2 runs v1
    ("linux/amd64", Platform("linux", "386"), True),
    ("linux/386", Platform("linux", "amd64"), False),
    ("linux/arm64", Platform("linux", "amd64"), False),
    ("linux/arm64", Platform("linux", "arm64", "v8"), True),
    ("linux/arm64/v8", Platform("linux", "arm64", "v8"), True),
    ("linux/arm64/v8", Platform("linux", "arm64"), True),
    ("linux/arm64/v9", Platform("linux", "arm64", "v8"), False),
    ("linux/arm/v7", Platform("linux", "arm64", "v8"), False),
    ("linux/arm", Platform("linux", "arm64", "v8"), False),
    ("linux/arm64", Platform("linux", "arm", "v7"), True),    # arm64 runs arm/v8..v5
    ("linux/arm/v7", Platform("linux", "arm", "v6"), True),
    ("linux/arm/v6", Platform("linux", "arm", "v7"), False),
    ("linux/arm/v6", Platform("linux", "arm"), True),          # no variant: os/arch decide
    ("windows/amd64", Platform("linux", "amd64"), False),
])
def test_matches_image(wanted, image, ok):
    assert platforms.matches_image(platforms.parse(wanted), image) is ok


def _entry(name, os_, arch, variant=None):
    p = {"os": os_, "architecture": arch}
    if variant:
        p["variant"] = variant
    return {"digest": name, "platform": p}


INDEX = [_entry("arm-v6", "linux", "arm", "v6"), _entry("arm64", "linux", "arm64", "v8"),
         _entry("arm-v7", "linux", "arm", "v7"), _entry("386", "linux", "386"),
         _entry("amd64", "linux", "amd64"), _entry("win", "windows", "amd64"),
         _entry("unknown", "unknown", "unknown")]


def _names(entries):
    return [e["digest"] for e in entries]


@pytest.mark.parametrize("wanted, first", [
    (None, "amd64"), ("linux/amd64", "amd64"), ("linux/386", "386"), ("linux/arm64", "arm64"),
    ("linux/arm64/v8", "arm64"), ("linux/arm/v7", "arm-v7"), ("linux/arm", "arm-v7"),
    ("linux/arm/v6", "arm-v6"), ("windows/amd64", "win"),
])
def test_select_ranks_the_index(amd64_host, wanted, first):
    got = platforms.select(INDEX, platforms.parse(wanted) if wanted else None)
    assert got[0]["digest"] == first


def test_select_orders_what_a_platform_also_runs(amd64_host):
    assert _names(platforms.select(INDEX, platforms.parse("linux/arm64"))) == [
        "arm64", "arm-v7", "arm-v6"]
    assert _names(platforms.select(INDEX, None)) == ["amd64", "386"]
    assert platforms.select(INDEX, platforms.parse("linux/s390x")) == []


def test_select_defaults_to_the_host_with_its_variant(monkeypatch):
    monkeypatch.setattr(platforms._host, "machine", lambda: "armv7l")
    monkeypatch.setattr(platforms, "_arm_variant", lambda: "v7")
    assert _names(platforms.select(INDEX, None)) == ["arm-v7", "arm-v6"]
    monkeypatch.setattr(platforms._host, "machine", lambda: "aarch64")
    assert platforms.select(INDEX, None)[0]["digest"] == "arm64"


def test_select_arm_without_variant_in_the_index():
    """Older manifest lists leave out the arm variant: they still match, os/arch only."""
    index = [_entry("old-arm", "linux", "arm"), _entry("amd64", "linux", "amd64")]
    assert _names(platforms.select(index, platforms.parse("linux/arm/v6"))) == ["old-arm"]
    assert _names(platforms.select(index, platforms.parse("linux/arm/v7"))) == ["old-arm"]
