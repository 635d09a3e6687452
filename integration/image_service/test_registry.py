"""Images.Pull / Images.Push against Debian's docker-registry (distribution v2) on 127.0.0.1,
with the image service running as a real process."""

import json
import time
import urllib.request

import pytest

from dockyard_api.images.v1 import images_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors
from dockyard_common.testing import free_port
from dockyard_common.testing.registry import Registry

@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """docker-registry on 127.0.0.1:<free port>: its "host:port"."""
    with Registry(str(tmp_path_factory.mktemp("registry"))) as reg:
        yield reg.host


def load(images, path):
    def gen():
        with open(path, "rb") as f:
            while True:
                data = f.read(256 * 1024)
                if not data:
                    return
                yield types_pb2.DataChunk(data=data)
    return images.Load(gen())


def registry_json(registry, path, accept=None):
    req = urllib.request.Request("http://%s%s" % (registry, path))
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read()), dict(resp.headers)


def test_push_delete_pull_round_trip(images, default_images, registry):
    load(images, default_images["busybox"])
    busybox = images.Get(images_pb2.GetImageRequest(ref="busybox:latest"))
    ref = registry + "/test/busybox:1"
    images.Tag(images_pb2.TagImageRequest(ref="busybox:latest", target=ref))

    pushed = list(images.Push(images_pb2.PushImageRequest(ref=ref)))
    statuses = [m.status for m in pushed]
    assert statuses[0] == "The push refers to repository [%s/test/busybox]" % registry
    assert "Pushed" in statuses
    done = [m for m in pushed if m.done]
    assert len(done) == 1 and done[0].id == "1"
    digest, size = done[0].digest, done[0].size
    assert "1: digest: %s size: %d" % (digest, size) in statuses
    manifest, headers = registry_json(registry, "/v2/test/busybox/manifests/1",
                                      "application/vnd.docker.distribution.manifest.v2+json")
    assert headers["Docker-Content-Digest"] == digest
    assert manifest["config"]["digest"] == busybox.id
    assert list(images.Get(images_pb2.GetImageRequest(ref=ref)).repo_digests) == [
        "%s/test/busybox@%s" % (registry, digest)]

    # a second push changes nothing
    again = list(images.Push(images_pb2.PushImageRequest(ref=ref)))
    assert "Layer already exists" in [m.status for m in again]
    assert [m.digest for m in again if m.done] == [digest]

    # delete every local reference, then pull it back
    images.Delete(images_pb2.DeleteImageRequest(ref=ref))
    images.Delete(images_pb2.DeleteImageRequest(ref="busybox:latest"))
    with pytest.raises(errors.NotFound):
        images.Get(images_pb2.GetImageRequest(ref=busybox.id))
    pulled = list(images.Pull(images_pb2.PullImageRequest(ref=ref)))
    statuses = [m.status for m in pulled]
    assert "Pull complete" in statuses
    assert "Digest: " + digest in statuses
    assert "Status: Downloaded newer image for " + ref in statuses
    assert pulled[-1].done and pulled[-1].id == busybox.id and pulled[-1].digest == digest
    img = images.Get(images_pb2.GetImageRequest(ref=ref))
    assert img.id == busybox.id and list(img.diff_ids) == list(busybox.diff_ids)
    assert list(img.repo_digests) == ["%s/test/busybox@%s" % (registry, digest)]

    # the pulled image pushes back with the same digest, and pulls by digest
    again = list(images.Push(images_pb2.PushImageRequest(ref=ref)))
    assert [m.digest for m in again if m.done] == [digest]
    images.Delete(images_pb2.DeleteImageRequest(ref=ref))
    by_digest = "%s/test/busybox@%s" % (registry, digest)
    pulled = list(images.Pull(images_pb2.PullImageRequest(ref=by_digest)))
    assert pulled[-1].id == busybox.id
    assert images.Get(images_pb2.GetImageRequest(ref=by_digest)).id == busybox.id
    images.Delete(images_pb2.DeleteImageRequest(ref=by_digest))


def test_push_mounts_across_repositories(images, default_images, registry):
    load(images, default_images["hello-world"])
    src, dst = registry + "/test/hello:1", registry + "/other/hello:1"
    images.Tag(images_pb2.TagImageRequest(ref="hello-world:latest", target=src))
    images.Tag(images_pb2.TagImageRequest(ref="hello-world:latest", target=dst))
    list(images.Push(images_pb2.PushImageRequest(ref=src)))
    statuses = [m.status for m in images.Push(images_pb2.PushImageRequest(ref=dst))]
    assert "Mounted from test/hello" in statuses
    tags, _ = registry_json(registry, "/v2/other/hello/tags/list")
    assert tags["tags"] == ["1"]


def test_pull_unknown_tag_and_repository(images, registry):
    with pytest.raises(errors.NotFound) as ei:
        list(images.Pull(images_pb2.PullImageRequest(ref=registry + "/test/busybox:nope")))
    assert str(ei.value) == ("manifest for %s/test/busybox:nope not found: manifest unknown: "
                             "manifest unknown" % registry)
    with pytest.raises(errors.NotFound) as ei:
        list(images.Pull(images_pb2.PullImageRequest(ref=registry + "/never/pushed:x")))
    assert "manifest unknown" in str(ei.value)
    with pytest.raises(errors.NotFound):
        images.Get(images_pb2.GetImageRequest(ref=registry + "/test/busybox:nope"))


def test_pull_from_nothing_listening_fails_fast(images):
    port = free_port()
    start = time.monotonic()
    with pytest.raises(errors.Unavailable) as ei:
        list(images.Pull(images_pb2.PullImageRequest(ref="127.0.0.1:%d/x/y:1" % port)))
    assert time.monotonic() - start < 6
    assert "connection refused" in str(ei.value)
