"""docker push / pull / login through a real stack against Debian's docker-registry on
127.0.0.1:<free port> (plain HTTP, as dockerd treats 127.0.0.0/8 as insecure), driven by the
docker CLI and docker-py: tag, push, rmi, pull, run, pull by digest, unknown tag, events,
and `docker login` against a registry with htpasswd (bcrypt) auth."""

import json
import re
import secrets
import tempfile
import time
import warnings

import docker
import pytest

from dockyard_common.testing import free_port
from dockyard_common.testing.dockercli import import_rootfs
from dockyard_common.testing.registry import Registry
from dockyard_common.testing.rootfs import make_rootfs

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
USER, PASSWORD = "dyuser", "dy-" + secrets.token_hex(4)


def _bcrypt(password):
    """An htpasswd bcrypt hash with glibc's crypt(3) ($2b$), no bcrypt module needed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    if crypt.METHOD_BLOWFISH not in crypt.methods:
        pytest.fail("this libc's crypt(3) has no bcrypt: cannot make an htpasswd file")
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with Registry(str(tmp_path_factory.mktemp("registry"))) as reg:
        yield reg


def _new_image(dcli, host, marker):
    """A freshly imported image (its layer exists nowhere else) tagged in the registry."""
    repo = "%s/dytest/img-%s" % (host, secrets.token_hex(4))
    with tempfile.TemporaryDirectory(prefix="dy-rootfs-") as root:
        make_rootfs(root, dirs=(), commands=("sh", "cat", "echo"), files={"marker": marker + "\n"})
        import_rootfs(dcli, root, repo + ":v1", changes=('CMD ["cat", "/marker"]',))
    return repo, repo + ":v1"


def _inspect(dcli, ref):
    return json.loads(dcli("image", "inspect", ref).out)[0]


def test_push_rmi_pull_run_and_pull_by_digest(stack, dcli, registry):
    marker = "m-" + secrets.token_hex(6)
    repo, ref = _new_image(dcli, registry.host, marker)
    image_id = _inspect(dcli, ref)["Id"]
    push = dcli("push", ref)
    m = re.search(r"v1: digest: (sha256:[0-9a-f]{64}) size: \d+", push.out)
    assert m and "The push refers to repository [%s]" % repo in push.out, push.out
    digest = m.group(1)
    path = repo.split("/", 1)[1]
    assert path in registry.get_json("/v2/_catalog")["repositories"]
    assert registry.get_json("/v2/%s/tags/list" % path)["tags"] == ["v1"]
    assert _inspect(dcli, ref)["RepoDigests"] == ["%s@%s" % (repo, digest)]
    listed = dcli("images", "--digests", "--format", "{{.Repository}} {{.Digest}}", repo).out
    assert listed.split() == [repo, digest]
    again = dcli("push", ref)
    assert "Layer already exists" in again.out and digest in again.out
    # round trip
    dcli("rmi", ref)
    assert dcli("image", "inspect", image_id, check=False).returncode != 0
    pull = dcli("pull", ref)
    assert "Pulling from " + path in pull.out
    assert "Digest: " + digest in pull.out
    assert "Status: Downloaded newer image for " + ref in pull.out
    img = _inspect(dcli, ref)
    assert img["Id"] == image_id and img["RepoDigests"] == ["%s@%s" % (repo, digest)]
    assert "Image is up to date for " + ref in dcli("pull", ref).out
    assert dcli("run", "--rm", ref).out == marker + "\n"
    # by digest
    dcli("rmi", ref)
    by_digest = "%s@%s" % (repo, digest)
    dcli("pull", by_digest)
    assert _inspect(dcli, by_digest)["Id"] == image_id
    dcli("rmi", by_digest)


def test_events_and_sdk(stack, dcli, registry):
    marker = "sdk-" + secrets.token_hex(4)
    repo, ref = _new_image(dcli, registry.host, marker)
    since = time.time() - 1
    client = docker.DockerClient(base_url=stack.docker_host, version="auto")
    try:
        events = list(client.images.push(repo, tag="v1", stream=True, decode=True))
        assert not [e for e in events if "error" in e], events
        aux = [e["aux"] for e in events if "aux" in e]
        assert aux[-1]["Tag"] == "v1" and DIGEST.fullmatch(aux[-1]["Digest"]) and aux[-1]["Size"] > 0
        client.images.remove(ref)
        pulled = client.images.pull(repo, tag="v1")
        assert ref in pulled.tags
        seen = client.events(since=since, until=time.time() + 1, decode=True,
                             filters={"type": "image"})
        actions = [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"].get("name"))
                   for e in seen]
        assert ("push", ref, repo) in actions and ("pull", ref, repo) in actions, actions
        client.images.remove(ref)
    finally:
        client.close()


def test_run_pulls_a_missing_image(stack, dcli, registry):
    marker = "run-" + secrets.token_hex(4)
    repo, ref = _new_image(dcli, registry.host, marker)
    dcli("push", ref)
    dcli("rmi", ref)
    r = dcli("run", "--rm", ref)
    assert "Unable to find image '%s' locally" % ref in r.err
    assert r.out == marker + "\n"
    dcli("rmi", ref)


def test_unknown_tag_or_repository(stack, dcli, registry):
    repo, ref = _new_image(dcli, registry.host, "unknown")
    dcli("push", ref)
    r = dcli("pull", repo + ":does-not-exist", check=False)
    assert r.returncode == 1
    assert ("Error response from daemon: manifest for %s:does-not-exist not found: manifest unknown"
            % repo) in r.err
    r = dcli("run", "--rm", repo + ":nope", check=False)
    assert r.returncode == 125 and "manifest unknown" in r.err
    client = docker.APIClient(base_url=stack.docker_host, version="auto")
    try:
        with pytest.raises(docker.errors.NotFound) as ei:
            client.pull("%s/dytest/never-%s" % (registry.host, secrets.token_hex(3)), tag="x")
        assert ei.value.status_code == 404 and "manifest unknown" in str(ei.value)
    finally:
        client.close()
    # push of a missing tag: 404 before any output
    r = dcli("push", repo + ":missing", check=False)
    assert r.returncode == 1 and "No such image: %s:missing" % repo in r.err
    dcli("rmi", ref)


def test_unreachable_registry(stack, dcli):
    host = "127.0.0.1:%d" % free_port()
    r = dcli("pull", host + "/x:v1", check=False)
    assert r.returncode == 1
    assert 'Get "http://%s/v2/": dial tcp %s: connect: connection refused' % (host, host) in r.err


def test_login_with_htpasswd_then_push_and_pull(stack, dcli, tmp_path):
    with Registry(str(tmp_path / "authreg"), htpasswd=(USER, _bcrypt(PASSWORD))) as reg:
        bad = dcli("login", "-u", USER, "--password-stdin", reg.host, input=b"wrong\n", check=False)
        assert bad.returncode == 1
        assert ("Error response from daemon: login attempt to http://%s/v2/ failed with status: "
                "401 Unauthorized" % reg.host) in bad.err
        repo, ref = _new_image(dcli, reg.host, "auth-marker")
        anon = dcli("push", ref, check=False)
        assert anon.returncode == 1 and "unauthorized" in (anon.out + anon.err).lower()
        ok = dcli("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD.encode() + b"\n")
        assert "Login Succeeded" in ok.out
        push = dcli("push", ref)
        digest = DIGEST.search(push.out).group(0)
        dcli("rmi", ref)
        pull = dcli("pull", ref)
        assert "Digest: " + digest in pull.out
        assert dcli("run", "--rm", ref).out == "auth-marker\n"
        dcli("rmi", ref)
        dcli("logout", reg.host)
        denied = dcli("pull", ref, check=False)
        assert denied.returncode == 1 and "docker login" in denied.err
