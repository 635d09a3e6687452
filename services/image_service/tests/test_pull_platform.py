"""Pulling a manifest list / OCI index for a platform: the requested one (with variants ranked as
containerd's Only), the host's by default (with the arm variant), dockerd's errors and the order
of "Pulling from" (after the tag's manifest, before the platform is chosen)."""

import json

import pytest

from dockyard_common import errors, platforms
from dockyard_images import distribution as dist
from helpers import entry, make_tar
from test_registry_pull_push import Events, publish

L_AMD = make_tar([entry("platform", data=b"amd64\n")])
L_ARM64 = make_tar([entry("platform", data=b"arm64\n")])
L_ARM7 = make_tar([entry("platform", data=b"arm/v7\n")])
L_ARM6 = make_tar([entry("platform", data=b"arm/v6\n")])


@pytest.fixture
def index(registry):
    """test/multi:latest, an OCI index: arm/v6, arm64/v8, arm/v7, amd64 (in that order);
    returns {name: image id}."""
    images, entries = {}, []
    for name, layer, arch, variant in (("arm/v6", L_ARM6, "arm", "v6"),
                                       ("arm64", L_ARM64, "arm64", "v8"),
                                       ("arm/v7", L_ARM7, "arm", "v7"),
                                       ("amd64", L_AMD, "amd64", "")):
        mdigest, image_id = publish(registry, "test/multi", "", [layer], arch=arch,
                                    media=dist.OCI_MANIFEST)
        images[name] = image_id
        p = {"os": "linux", "architecture": arch}
        if variant:
            p["variant"] = variant
        entries.append({"mediaType": dist.OCI_MANIFEST, "digest": mdigest, "size": 1, "platform": p})
    body = json.dumps({"schemaVersion": 2, "mediaType": dist.OCI_INDEX, "manifests": entries}).encode()
    images["top"] = registry.add_manifest("test/multi", "latest", body, dist.OCI_INDEX)
    return images


def pull(store, ref, platform=""):
    from dockyard_images.pull import Puller
    from dockyard_images.registry import RegistrySettings
    ev = Events()
    try:
        return Puller(store, RegistrySettings()).pull(ref, ev, platform=platform), ev
    except errors.DockyardError as exc:
        exc.events = ev
        raise


@pytest.mark.parametrize("platform, name", [
    ("linux/arm64", "arm64"), ("linux/arm64/v8", "arm64"), ("linux/arm/v7", "arm/v7"),
    ("linux/arm", "arm/v7"), ("linux/arm/v6", "arm/v6"), ("linux/amd64", "amd64"),
    ("linux/amd64/v3", "amd64"),
])
def test_pull_picks_the_requested_platform(store, registry, index, platform, name):
    (image_id, digest), _ = pull(store, registry.host + "/test/multi", platform)
    assert image_id == index[name] and digest == index["top"]


def test_pull_defaults_to_the_host_platform_with_its_variant(store, registry, index, monkeypatch):
    monkeypatch.setattr(platforms._host, "machine", lambda: "x86_64")
    (image_id, _), _ = pull(store, registry.host + "/test/multi")
    assert image_id == index["amd64"]
    monkeypatch.setattr(platforms._host, "machine", lambda: "armv7l")
    monkeypatch.setattr(platforms, "_arm_variant", lambda: "v6")
    (image_id, _), _ = pull(store, registry.host + "/test/multi")
    assert image_id == index["arm/v6"]
    monkeypatch.setattr(platforms._host, "machine", lambda: "aarch64")
    (image_id, _), _ = pull(store, registry.host + "/test/multi")
    assert image_id == index["arm64"]


def test_arm64_falls_back_to_arm_in_an_index_without_it(store, registry):
    mdigest, image_id = publish(registry, "test/armonly", "", [L_ARM7], arch="arm")
    body = json.dumps({"schemaVersion": 2, "mediaType": dist.DOCKER_LIST, "manifests": [
        {"mediaType": dist.DOCKER_MANIFEST, "digest": mdigest, "size": 1,
         "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}]}).encode()
    registry.add_manifest("test/armonly", "latest", body, dist.DOCKER_LIST)
    (got, _), _ = pull(store, registry.host + "/test/armonly", "linux/arm64")
    assert got == image_id


def test_no_matching_platform_comes_after_pulling_from(store, registry, index):
    with pytest.raises(errors.NotFound) as exc:
        pull(store, registry.host + "/test/multi", "linux/s390x")
    assert exc.value.message == "no matching manifest for linux/s390x in the manifest list entries"
    assert exc.value.events.statuses() == ["Pulling from test/multi"]
    with pytest.raises(errors.NotFound, match="no matching manifest for windows/amd64 in"):
        pull(store, registry.host + "/test/multi", "windows/amd64")
    assert store.list() == []


def test_a_missing_tag_fails_before_pulling_from(store, registry, index):
    with pytest.raises(errors.NotFound) as exc:
        pull(store, registry.host + "/test/multi:nope", "linux/arm64")
    assert exc.value.events.statuses() == []


def test_malformed_platform_is_invalid_before_any_request(store, registry, index):
    with pytest.raises(errors.InvalidArgument) as exc:
        pull(store, registry.host + "/test/multi", "foo")
    assert exc.value.message == '"foo": unknown operating system or architecture: invalid argument'
    assert registry.count("GET", "/manifests/") == 0


def test_single_platform_manifest_is_pulled_whatever_the_platform(store, registry):
    """dockerd 20.10 does not check a plain manifest's config against --platform: container
    create then reports the mismatch."""
    mdigest, image_id = publish(registry, "test/amd", "v1", [L_AMD])
    (got, digest), _ = pull(store, registry.host + "/test/amd:v1", "linux/arm64")
    assert (got, digest) == (image_id, mdigest)


def test_another_platform_takes_the_tag_not_the_digest(store, registry, index, monkeypatch):
    """dockerd's addDigestReference: a tag pull leaves an existing repo@digest where it is."""
    monkeypatch.setattr(platforms._host, "machine", lambda: "x86_64")
    ref = registry.host + "/test/multi:latest"
    digest_ref = "%s/test/multi@%s" % (registry.host, index["top"])
    pull(store, ref)
    pull(store, ref, "linux/arm64")
    assert store.get(ref).id == index["arm64"]
    assert store.get(ref).repo_digests == []
    assert store.get(index["amd64"]).repo_digests == [digest_ref]
    # nor does a pull by digest: dockerd's "Cannot overwrite digest", after the Digest line
    with pytest.raises(errors.Conflict) as exc:
        pull(store, digest_ref, "linux/arm64")
    assert exc.value.message == "Cannot overwrite digest " + index["top"]
    assert exc.value.events.statuses()[-1] == "Digest: " + index["top"]
    assert exc.value.events[0] == {"id": digest_ref, "status": "Pulling from test/multi"}
    assert store.get(digest_ref).id == index["amd64"]
