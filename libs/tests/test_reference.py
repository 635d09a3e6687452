import pytest

from dockyard_common import errors
from dockyard_common import reference


@pytest.mark.parametrize("ref,want", [
    ("busybox", "busybox:latest"),
    ("busybox:1.36", "busybox:1.36"),
    ("docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "busybox:latest"),
    ("library/busybox", "busybox:latest"),
    ("foo/bar", "foo/bar:latest"),
    ("docker.io/foo/bar:t", "foo/bar:t"),
    ("localhost:5000/x/y:t", "localhost:5000/x/y:t"),
    ("localhost/x", "localhost/x:latest"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
    ("conformance/busybox:latest", "conformance/busybox:latest"),
    ("foo/a.b-c__d", "foo/a.b-c__d:latest"),
])
def test_normalize(ref, want):
    assert reference.normalize_tag(ref) == want


@pytest.mark.parametrize("ref", ["", "UPPER", "foo:", ":tag", "a//b", "-x", "x y", "foo@sha256:zz",
                                 "foo:" + "t" * 200, "a" * 64])
def test_invalid(ref):
    with pytest.raises(errors.InvalidArgument):
        reference.parse(ref)


def test_uppercase_message():
    with pytest.raises(errors.InvalidArgument, match="must be lowercase"):
        reference.parse("Busybox")


def test_digest_reference():
    d = "sha256:" + "a" * 64
    r = reference.parse("busybox@" + d)
    assert r.digest == d and r.tag == ""
    assert reference.normalize_tag("busybox@" + d) == "busybox@" + d


def test_display():
    assert reference.display("busybox") == "busybox:latest"
    assert reference.display("docker.io/library/busybox") == "busybox:latest"
    assert reference.display("a" * 64) == "sha256:" + "a" * 64
    assert reference.display("Bad Ref") == "Bad Ref"


def test_is_id_prefix():
    iid = "sha256:" + "ab" * 32
    assert reference.is_id_prefix(iid, "abab")
    assert reference.is_id_prefix(iid, "sha256:abab")
    assert not reference.is_id_prefix(iid, "busybox")
    assert not reference.is_id_prefix(iid, "abac")
