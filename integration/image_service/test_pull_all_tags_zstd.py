"""`docker pull -a` and zstd-compressed layers, through a whole stack (docker CLI and SDK) against
Debian's docker-registry on 127.0.0.1: several tags pushed then pulled back at once; an OCI image
whose layer is tar+zstd, uploaded by the test itself (blobs + manifest PUT), pulled and run, pushed
again (as gzip), and loaded from an OCI archive."""

import hashlib
import io
import json
import re
import secrets
import tarfile
import urllib.parse
import urllib.request

import docker
import pytest
import zstandard

from dockyard_common.testing.dockercli import DockerCLI, import_rootfs
from dockyard_common.testing.registry import Registry
from dockyard_common.testing.rootfs import make_rootfs, tar_of
from dockyard_common.testing.stack import TestStack

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with Registry(str(tmp_path_factory.mktemp("registry"))) as reg:
        yield reg


@pytest.fixture(scope="module")
def whole(tmp_path_factory, default_images):
    """Every service, busybox loaded; .dcli (docker CLI) and .client (SDK) bound to it."""
    with TestStack() as s:
        s.dcli = DockerCLI.for_stack(s, tmp_path_factory.mktemp("cfg"), text=True, timeout=180)
        s.dcli("load", "-i", default_images["busybox"], check=True)
        s.client = docker.DockerClient(base_url=s.docker_host, version="auto", timeout=120)
        try:
            yield s
        finally:
            for c in s.client.containers.list(all=True):
                c.remove(force=True)
            s.client.close()


def _id(dcli, ref):
    return json.loads(dcli("image", "inspect", ref, check=True).out)[0]["Id"]


# ---------------------------------------------------------------------------------------------
# docker pull -a
# ---------------------------------------------------------------------------------------------

def test_pull_all_tags_with_the_cli_and_the_sdk(whole, registry, tmp_path):
    dcli = whole.dcli
    repo = "%s/multi-%s" % (registry.host, secrets.token_hex(3))
    for tag in ("a", "b"):
        dcli("tag", "busybox:latest", repo + ":" + tag, check=True)
    root = make_rootfs(str(tmp_path / "root"), dirs=(), commands=("cat",), files={"marker": "c\n"})
    import_rootfs(dcli, root, repo + ":c", changes=('CMD ["cat", "/marker"]',))
    ids = {t: _id(dcli, repo + ":" + t) for t in "abc"}
    dcli("push", "--all-tags", repo, check=True)
    order = registry.get_json("/v2/%s/tags/list" % repo.split("/", 1)[1])["tags"]
    assert sorted(order) == ["a", "b", "c"]
    dcli("rmi", *[repo + ":" + t for t in "abc"], check=True)

    out = dcli("pull", "-a", repo, check=True).out
    name = repo.split("/", 1)[1]
    # as dockerd: a section per tag in the registry's order, one Status line at the end
    sections = re.findall(r"^(\w+): Pulling from " + re.escape(name) + "$", out, re.M)
    assert sections == order, out
    assert len(re.findall(r"^Digest: sha256:[0-9a-f]{64}$", out, re.M)) == 3, out
    assert "Status: Downloaded newer image for %s\n" % repo in out, out
    assert out.count("Status:") == 1
    assert {t: _id(dcli, repo + ":" + t) for t in "abc"} == ids
    assert dcli("run", "--rm", repo + ":c", check=True).out == "c\n"

    # the SDK: all_tags=True lists the repository's images; again, nothing is new
    images = whole.client.images.pull(repo, all_tags=True)
    assert sorted(t for img in images for t in img.tags if t.startswith(repo)) == [
        repo + ":" + t for t in "abc"]
    lines = list(whole.client.api.pull(repo, all_tags=True, stream=True, decode=True))
    assert lines[-1] == {"status": "Status: Image is up to date for " + repo}
    assert [l["id"] for l in lines if l.get("status", "").startswith("Pulling from")] == order

    # a tag on the command line with -a is the CLI's error; an unknown repository a 404
    missing = dcli("pull", "-a", registry.host + "/never/pushed")
    assert missing.returncode != 0
    assert ("repository %s/never/pushed not found: name unknown: repository name not known to "
            "registry" % registry.host) in missing.err
    dcli("rmi", *[repo + ":" + t for t in "abc"], check=True)


# ---------------------------------------------------------------------------------------------
# zstd layers
# ---------------------------------------------------------------------------------------------

def _zstd_image(tmp_path, marker):
    """(layer tar, its zstd blob, config bytes) of a busybox image whose CMD prints marker."""
    root = make_rootfs(str(tmp_path / ("z-" + marker)), dirs=("tmp",),
                       commands=("sh", "cat", "echo", "ls"), files={"marker": marker + "\n"})
    layer = tar_of(root)
    blob = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(layer)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-05-01T00:00:00Z",
        "config": {"Cmd": ["cat", "/marker"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
        "history": [{"created": "2024-05-01T00:00:00Z", "created_by": "zstd test layer"}],
    }).encode()
    return layer, blob, config


def _oci_manifest(blob, config):
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": ZSTD_LAYER, "digest": sha(blob), "size": len(blob)}],
    }).encode()


def _http(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, dict(resp.headers), resp.read()


def _upload(registry, path, data):
    """Monolithic blob upload: POST an upload, PUT the bytes with ?digest=."""
    base = "http://" + registry.host
    status, headers, _ = _http("POST", "%s/v2/%s/blobs/uploads/" % (base, path), b"")
    assert status == 202
    location = urllib.parse.urljoin(base + "/", headers["Location"])
    sep = "&" if "?" in location else "?"
    status, _, _ = _http("PUT", location + sep + "digest=" + sha(data), data,
                         {"Content-Type": "application/octet-stream"})
    assert status == 201


def test_pull_run_push_a_zstd_layer_image(whole, registry, tmp_path):
    dcli = whole.dcli
    marker = "zstd-" + secrets.token_hex(4)
    layer, blob, config = _zstd_image(tmp_path, marker)
    path = "zst/app-" + secrets.token_hex(3)
    _upload(registry, path, blob)
    _upload(registry, path, config)
    manifest = _oci_manifest(blob, config)
    _http("PUT", "http://%s/v2/%s/manifests/v1" % (registry.host, path), manifest,
          {"Content-Type": OCI_MANIFEST})
    ref = "%s/%s:v1" % (registry.host, path)

    out = dcli("pull", ref, check=True).out
    assert "Pull complete" in out and "Digest: " + sha(manifest) in out, out
    assert "Status: Downloaded newer image for " + ref in out
    info = json.loads(dcli("image", "inspect", ref, check=True).out)[0]
    assert info["Id"] == sha(config) and info["RootFS"]["Layers"] == [sha(layer)]
    assert info["RepoDigests"] == ["%s/%s@%s" % (registry.host, path, sha(manifest))]
    assert dcli("run", "--rm", ref, check=True).out == marker + "\n"

    # docker save gives the plain tar back
    saved = b"".join(whole.client.images.get(ref).save())
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        entry = json.load(tar.extractfile("manifest.json"))[0]
        assert sha(tar.extractfile(entry["Layers"][0]).read()) == sha(layer)
    # push sends gzip (a Docker v2 manifest), as Docker does
    again = "%s/zst/again-%s:v1" % (registry.host, secrets.token_hex(3))
    dcli("tag", ref, again, check=True)
    dcli("push", again, check=True)
    pushed = json.loads(_http("GET", "http://%s/v2/%s/manifests/v1" % (
        registry.host, again.split("/", 1)[1].rsplit(":", 1)[0]), None,
        {"Accept": "application/vnd.docker.distribution.manifest.v2+json"})[2])
    assert [l["mediaType"] for l in pushed["layers"]] == [DOCKER_GZIP]
    assert pushed["config"]["digest"] == sha(config)
    dcli("rmi", ref, again, check=True)


def test_load_an_oci_archive_with_a_zstd_layer(whole, tmp_path):
    marker = "oci-" + secrets.token_hex(4)
    layer, blob, config = _zstd_image(tmp_path, marker)
    manifest = _oci_manifest(blob, config)
    name = "dy-it/zstd-oci:%s" % marker
    members = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "blobs/sha256/" + sha(blob)[7:]: blob,
        "blobs/sha256/" + sha(config)[7:]: config,
        "blobs/sha256/" + sha(manifest)[7:]: manifest,
        "index.json": json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": sha(manifest), "size": len(manifest),
            "annotations": {"io.containerd.image.name": "docker.io/" + name}}]}).encode(),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "zstd-oci.tar"
    archive.write_bytes(buf.getvalue())
    out = whole.dcli("load", "-i", str(archive), check=True).out
    assert "Loaded image: " + name in out, out
    assert _id(whole.dcli, name) == sha(config)
    assert whole.dcli("run", "--rm", name, check=True).out == marker + "\n"
    whole.dcli("rmi", name, check=True)
