"""Pull and push against an in-process fake registry (fake_registry.py): manifest lists, digest
verification, token auth, skipping blobs that exist, cross-repository mounts, Docker's errors."""

import gzip
import json
import os
import time

import pytest

from dockyard_common import errors
from dockyard_images import distribution as dist
from dockyard_images.images import ImageStore, chain_ids
from dockyard_images.pull import Puller
from dockyard_images.push import Pusher
from dockyard_images.registry import RegistrySettings
from fake_registry import FakeRegistry, sha
from helpers import chunks, docker_archive, entry, image_config, make_tar

L1 = make_tar([entry("bin", "dir"), entry("bin/tool", data=b"\x7fELF" + b"t" * 5000, mode=0o755)])
L2 = make_tar([entry("etc", "dir"), entry("etc/motd", data=b"registry\n")])


class Events(list):
    def __call__(self, **event):
        self.append(event)

    def statuses(self):
        return [e.get("status", "") for e in self]


def pull(store, ref, **kw):
    ev = Events()
    result = Puller(store, RegistrySettings()).pull(ref, ev, **kw)
    return result, ev


def push(store, ref, **kw):
    ev = Events()
    result = Pusher(store, RegistrySettings()).push(ref, ev, **kw)
    return result, ev


def publish(reg, repo, tag, layers, arch="amd64", media=dist.DOCKER_MANIFEST, compress=True):
    """Put an image (gzip'd layers) into the fake registry; returns (manifest digest, config digest)."""
    config = json.loads(image_config(layers))
    config["architecture"] = arch
    config = json.dumps(config).encode()
    descs = []
    for layer in layers:
        blob = gzip.compress(layer, mtime=0) if compress else layer
        lmedia = dist.DOCKER_LAYER_GZIP if compress else "application/vnd.oci.image.layer.v1.tar"
        descs.append({"mediaType": lmedia, "size": len(blob), "digest": reg.add_blob(repo, blob)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": media,
                           "config": {"mediaType": dist.DOCKER_CONFIG, "size": len(config),
                                      "digest": reg.add_blob(repo, config)},
                           "layers": descs}).encode()
    return reg.add_manifest(repo, tag, manifest, media), sha(config)


def load(store, layers, tag):
    store.load(chunks(docker_archive([(layers, [tag], None)]), 4096))
    return store.get(tag)


# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------

def test_settings_insecure_and_endpoints():
    s = RegistrySettings.from_env({"DOCKYARD_INSECURE_REGISTRIES": "reg.lan:5000, 10.0.0.0/8",
                                   "DOCKYARD_REGISTRY_MIRRORS": "http://127.0.0.1:6000,mirror.example"})
    assert s.is_insecure("127.0.0.1:5000") and s.is_insecure("127.3.4.5") and s.is_insecure("localhost:1")
    assert s.is_insecure("[::1]:5000") and s.is_insecure("reg.lan:5000") and s.is_insecure("10.1.2.3:80")
    assert not s.is_insecure("reg.lan:5001") and not s.is_insecure("registry-1.docker.io")
    assert s.endpoints("127.0.0.1:5000") == ["http://127.0.0.1:5000"]
    assert s.endpoints("quay.io") == ["https://quay.io"]
    assert s.endpoints("docker.io") == ["http://127.0.0.1:6000", "https://mirror.example",
                                        "https://registry-1.docker.io"]
    assert s.endpoints("docker.io", push=True) == ["https://registry-1.docker.io"]
    assert RegistrySettings.from_env({"DOCKYARD_DEFAULT_REGISTRY": "127.0.0.1:7000"}).endpoints(
        "docker.io") == ["http://127.0.0.1:7000"]


# ---------------------------------------------------------------------------------------------
# pull
# ---------------------------------------------------------------------------------------------

def test_pull_by_tag(store, registry):
    mdigest, config_digest = publish(registry, "test/img", "v1", [L1, L2])
    ref = registry.host + "/test/img:v1"
    (image_id, digest), ev = pull(store, ref)
    assert image_id == config_digest and digest == mdigest
    img = store.get(ref)
    assert img.repo_tags == [ref]
    assert img.repo_digests == ["%s/test/img@%s" % (registry.host, mdigest)]
    assert img.diff_ids == [sha(L1), sha(L2)]
    fs = store.snapshots.fs_path(img.chain_id)
    assert open(os.path.join(fs, "etc/motd"), "rb").read() == b"registry\n"
    st = ev.statuses()
    assert st[0] == "Pulling from test/img"
    assert st.count("Pull complete") == 2
    assert st[-2:] == ["Digest: " + mdigest, "Status: Downloaded newer image for " + ref]
    # compressed blobs and the manifest are kept, mapped to their diff ids
    for desc in json.loads(registry.manifests[("test/img", "v1")][0])["layers"]:
        assert store.content.exists(desc["digest"])
        assert store.dist.layer_blob(desc["digest"])["diff_id"] in img.diff_ids
    assert store.content.exists(mdigest)
    assert os.listdir(store.content.ingest_dir) == []


def test_pull_again_skips_existing_layers(store, registry):
    publish(registry, "test/img", "v1", [L1, L2])
    ref = registry.host + "/test/img:v1"
    pull(store, ref)
    gets = registry.count("GET", r"/blobs/")
    _, ev = pull(store, ref)
    assert registry.count("GET", r"/blobs/") == gets
    # as dockerd: an image it has gets no line per layer
    assert ev.statuses() == ["Pulling from test/img", "Digest: " + ev.statuses()[1][8:],
                             "Status: Image is up to date for " + ref]


def test_pull_shares_layers_with_other_images(store, registry):
    publish(registry, "test/base", "1", [L1])
    publish(registry, "test/app", "1", [L1, L2])
    pull(store, registry.host + "/test/base:1")
    _, ev = pull(store, registry.host + "/test/app:1")
    assert ev.statuses().count("Already exists") == 1
    assert ev.statuses().count("Pull complete") == 1


def test_pull_manifest_list_selects_platform(store, registry):
    arm, arm_cfg = publish(registry, "test/multi", "", [L2], arch="arm64")
    amd, amd_cfg = publish(registry, "test/multi", "", [L1], arch="amd64")
    index = json.dumps({"schemaVersion": 2, "mediaType": dist.DOCKER_LIST, "manifests": [
        {"mediaType": dist.DOCKER_MANIFEST, "digest": arm, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": dist.DOCKER_MANIFEST, "digest": amd, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    top = registry.add_manifest("test/multi", "latest", index, dist.DOCKER_LIST)
    (image_id, digest), _ = pull(store, registry.host + "/test/multi")
    assert image_id == amd_cfg and digest == top
    assert store.get(registry.host + "/test/multi:latest").repo_digests == [
        "%s/test/multi@%s" % (registry.host, top)]
    assert registry.count("GET", "/manifests/" + arm) == 0
    (image_id, _), _ = pull(store, registry.host + "/test/multi:latest", platform="linux/arm64")
    assert image_id == arm_cfg
    with pytest.raises(errors.NotFound, match="no matching manifest for linux/s390x"):
        pull(store, registry.host + "/test/multi", platform="linux/s390x")


def test_pull_oci_manifest_with_uncompressed_layers(store, registry):
    mdigest, cfg = publish(registry, "test/oci", "1", [L1], media=dist.OCI_MANIFEST, compress=False)
    (image_id, digest), _ = pull(store, registry.host + "/test/oci:1")
    assert (image_id, digest) == (cfg, mdigest)
    assert store.content.exists(sha(L1))


def test_pull_by_digest(store, registry):
    mdigest, cfg = publish(registry, "test/img", "v1", [L1])
    ref = "%s/test/img@%s" % (registry.host, mdigest)
    (image_id, digest), ev = pull(store, ref)
    assert (image_id, digest) == (cfg, mdigest)
    assert store.get(ref).id == cfg
    assert store.get(ref).repo_tags == []
    assert ev.statuses()[-1] == "Status: Downloaded newer image for " + ref


def test_pull_by_digest_refuses_other_manifest(store, registry):
    publish(registry, "test/img", "v1", [L1])
    other = "sha256:" + "1" * 64
    registry.manifests[("test/img", other)] = registry.manifests[("test/img", "v1")]
    with pytest.raises(errors.Unavailable, match="manifest verification failed"):
        pull(store, "%s/test/img@%s" % (registry.host, other))


def test_pull_digest_mismatch_keeps_nothing(store, registry):
    mdigest, _ = publish(registry, "test/img", "v1", [L1, L2])
    layer = json.loads(registry.manifests[("test/img", "v1")][0])["layers"][1]["digest"]
    registry.corrupt[layer] = gzip.compress(L2 + b"\0" * 512, mtime=0)
    with pytest.raises(errors.Unavailable, match="filesystem layer verification failed for digest " + layer):
        pull(store, registry.host + "/test/img:v1")
    assert store.content.list() == []
    assert store.snapshots.list() == []
    assert store.list(all=True) == []
    assert os.listdir(store.content.ingest_dir) == []
    with pytest.raises(errors.NotFound):
        store.get(registry.host + "/test/img:v1")


def test_pull_wrong_diff_id_keeps_nothing(store, registry):
    # the blob matches its digest, but it is not the layer the config names
    config = image_config([L1])
    blob = gzip.compress(L2, mtime=0)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": dist.DOCKER_MANIFEST,
                           "config": {"mediaType": dist.DOCKER_CONFIG, "size": len(config),
                                      "digest": registry.add_blob("test/bad", config)},
                           "layers": [{"mediaType": dist.DOCKER_LAYER_GZIP, "size": len(blob),
                                       "digest": registry.add_blob("test/bad", blob)}]}).encode()
    registry.add_manifest("test/bad", "1", manifest, dist.DOCKER_MANIFEST)
    with pytest.raises(errors.Unavailable, match="does not match diff id"):
        pull(store, registry.host + "/test/bad:1")
    assert store.content.list() == [] and store.snapshots.list() == []


def test_pull_errors_have_dockers_wording(store, registry):
    publish(registry, "test/img", "v1", [L1])
    with pytest.raises(errors.NotFound) as ei:
        pull(store, registry.host + "/test/img:nope")
    assert str(ei.value) == ("manifest for %s/test/img:nope not found: manifest unknown: "
                             "manifest unknown" % registry.host)
    with pytest.raises(errors.NotFound) as ei:
        pull(store, registry.host + "/test/never:x")
    assert str(ei.value) == ("repository %s/test/never not found: name unknown: "
                             "repository name not known to registry" % registry.host)
    with pytest.raises(errors.InvalidArgument):
        pull(store, registry.host + "/Bad/Name")


def test_pull_unreachable_is_quick(store):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    start = time.monotonic()
    with pytest.raises(errors.Unavailable) as ei:
        pull(store, "127.0.0.1:%d/x/y:1" % port)
    assert time.monotonic() - start < 5
    assert str(ei.value) == ('Get "http://127.0.0.1:%d/v2/": dial tcp 127.0.0.1:%d: connect: '
                             'connection refused' % (port, port))


def test_pull_falls_back_from_a_dead_mirror(store, registry):
    _, cfg = publish(registry, "library/busybox", "latest", [L1])
    settings = RegistrySettings(default_registry=registry.host, mirrors=["http://127.0.0.1:1"])
    image_id, _ = Puller(store, settings).pull("busybox", Events())
    assert image_id == cfg
    assert store.get("busybox:latest").repo_digests[0].startswith("busybox@sha256:")


def test_token_auth_challenge(store):
    with FakeRegistry(token_auth=True) as reg:
        _, cfg = publish(reg, "test/img", "v1", [L1])
        (image_id, _), _ = pull(store, reg.host + "/test/img:v1",
                                auth_json=json.dumps({"username": "u", "password": "p"}))
        assert image_id == cfg
        assert len(reg.token_requests) == 1
        req = reg.token_requests[0]
        assert req["query"]["scope"] == ["repository:test/img:pull"]
        assert req["query"]["service"] == ["fake"]
        assert req["auth"].startswith("Basic ")
        # push asks for pull,push on the target repository
        store.tag(image_id, reg.host + "/test/other:v2")
        push(store, reg.host + "/test/other:v2")
        scopes = reg.token_requests[-1]["query"]["scope"]
        assert "repository:test/other:pull,push" in scopes
        assert "repository:test/img:pull" in scopes     # mount source
        assert reg.token_requests[-1]["auth"] == ""      # anonymous


# ---------------------------------------------------------------------------------------------
# push
# ---------------------------------------------------------------------------------------------

def test_push_local_image_then_pull_back(store, registry, tmp_path):
    img = load(store, [L1, L2], "local/img:1")
    ref = registry.host + "/test/img:1"
    store.tag("local/img:1", ref)
    [(tag, digest, size)], ev = push(store, ref)
    assert tag == "1"
    body, media = registry.manifests[("test/img", "1")]
    assert media == dist.DOCKER_MANIFEST and sha(body) == digest and len(body) == size
    doc = json.loads(body)
    assert doc["config"]["digest"] == img.id
    assert [l["mediaType"] for l in doc["layers"]] == [dist.DOCKER_LAYER_GZIP] * 2
    assert ev.statuses()[0] == "The push refers to repository [%s/test/img]" % registry.host
    assert ev.statuses().count("Pushed") == 2
    assert ev[-2]["status"] == "1: digest: %s size: %d" % (digest, size)
    assert ev[-1] == {"id": "1", "digest": digest, "size": size, "done": True}
    assert store.get(ref).repo_digests == ["%s/test/img@%s" % (registry.host, digest)]
    # a fresh store pulls the same image id, and pushing it back keeps the digest
    other = ImageStore(str(tmp_path / "other"))
    (image_id, pulled), _ = pull(other, ref)
    assert (image_id, pulled) == (img.id, digest)
    other.tag(ref, registry.host + "/test/copy:1")
    [(_, again, _)], _ = push(other, registry.host + "/test/copy:1")
    assert again == digest


def test_push_is_deterministic_and_skips_existing(store, registry, tmp_path):
    load(store, [L1], "local/img:1")
    ref = registry.host + "/test/img:1"
    store.tag("local/img:1", ref)
    [(_, first, _)], _ = push(store, ref)
    patches = registry.count("PATCH", "")
    [(_, second, _)], ev = push(store, ref)
    assert second == first
    assert registry.count("PATCH", "") == patches
    assert "Layer already exists" in ev.statuses()
    # another store gzips the same layer to the same bytes
    other = ImageStore(str(tmp_path / "other"))
    load(other, [L1], "local/img:1")
    other.tag("local/img:1", registry.host + "/test/img2:1")
    [(_, third, _)], _ = push(other, registry.host + "/test/img2:1")
    assert third == first


def test_push_mounts_from_another_repository(store, registry):
    load(store, [L1], "local/img:1")
    store.tag("local/img:1", registry.host + "/test/a:1")
    store.tag("local/img:1", registry.host + "/test/b:1")
    push(store, registry.host + "/test/a:1")
    patches = registry.count("PATCH", "")
    _, ev = push(store, registry.host + "/test/b:1")
    assert "Mounted from test/a" in ev.statuses()
    assert registry.count("PATCH", "") == patches
    assert registry.count("POST", r"mount=sha256") >= 1


def test_push_all_tags_of_a_repository(store, registry):
    load(store, [L1], "local/img:1")
    for tag in ("a", "b"):
        store.tag("local/img:1", registry.host + "/test/many:" + tag)
    results, ev = push(store, registry.host + "/test/many")
    assert [r[0] for r in results] == ["a", "b"]
    assert [e["id"] for e in ev if e.get("done")] == ["a", "b"]


def test_push_errors(store, registry):
    with pytest.raises(errors.NotFound, match="tag does not exist: %s/test/none:1" % registry.host):
        push(store, registry.host + "/test/none:1")
    with pytest.raises(errors.NotFound, match="An image does not exist locally with the tag"):
        push(store, registry.host + "/test/none")


# ---------------------------------------------------------------------------------------------
# store integration: rmi and gc
# ---------------------------------------------------------------------------------------------

def test_rmi_of_last_tag_drops_repo_digests_and_blobs(store, registry):
    mdigest, cfg = publish(registry, "test/img", "v1", [L1])
    ref = registry.host + "/test/img:v1"
    pull(store, ref)
    items = store.delete(ref)
    assert items[:2] == [{"untagged": ref},
                         {"untagged": "%s/test/img@%s" % (registry.host, mdigest)}]
    assert {"deleted": cfg} in items
    assert store.content.list() == []
    assert store.db.query("SELECT * FROM image_manifests") == []
    assert store.db.query("SELECT * FROM layer_blobs") == []


def test_gc_keeps_pulled_blobs_of_live_images(store, registry):
    mdigest, _ = publish(registry, "test/img", "v1", [L1])
    pull(store, registry.host + "/test/img:v1")
    before = sorted(store.content.list())
    store.gc()
    assert sorted(store.content.list()) == before
    assert mdigest in before


# ---------------------------------------------------------------------------------------------
# single-pass layers: only the compressed blob is stored; save gives back the very tars
# ---------------------------------------------------------------------------------------------

def _new_dirs(store):
    return [n for n in os.listdir(store.snapshots.root) if n.startswith("new-")]


def test_pulled_layers_are_kept_compressed_and_save_gives_the_same_tars(store, registry, tmp_path):
    import io
    import tarfile
    big = make_tar([entry("data", "dir"), entry("data/blob", data=os.urandom(3 * 1024 * 1024))])
    _, cfg = publish(registry, "test/img", "v1", [L1, big, L2])
    ref = registry.host + "/test/img:v1"
    pull(store, ref)
    img = store.get(ref)
    for diff_id in img.diff_ids:
        assert not store.content.exists(diff_id)     # no uncompressed copy was written
    fs = store.snapshots.fs_path(chain_ids(img.diff_ids)[1])
    assert os.path.getsize(os.path.join(fs, "data/blob")) == 3 * 1024 * 1024
    assert _new_dirs(store) == []
    data = b"".join(store.save([ref]))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        layers = [tar.extractfile(name).read() for name in manifest[0]["Layers"]]
    assert layers == [L1, big, L2]
    assert b"".join(store.save([ref])) == data     # stable across saves
    with store.db.tx() as conn:                     # sizes unknown (an older store): measured
        conn.execute("DELETE FROM layer_sizes")
    assert b"".join(store.save([ref])) == data
    other = ImageStore(str(tmp_path / "other"))
    assert other.load(chunks(data, 65536)) == [{"id": cfg, "repo_tags": [ref]}]


def test_pull_of_a_corrupt_gzip_layer_keeps_nothing(store, registry):
    config = image_config([L1])
    blob = gzip.compress(L1, mtime=0)[:-40] + b"\x00" * 40      # right digest, broken stream
    manifest = json.dumps({"schemaVersion": 2, "mediaType": dist.DOCKER_MANIFEST,
                           "config": {"mediaType": dist.DOCKER_CONFIG, "size": len(config),
                                      "digest": registry.add_blob("test/bad", config)},
                           "layers": [{"mediaType": dist.DOCKER_LAYER_GZIP, "size": len(blob),
                                       "digest": registry.add_blob("test/bad", blob)}]}).encode()
    registry.add_manifest("test/bad", "1", manifest, dist.DOCKER_MANIFEST)
    with pytest.raises(errors.Unavailable, match="not a valid compressed tar|does not match diff id"):
        pull(store, registry.host + "/test/bad:1")
    assert store.content.list() == [] and store.snapshots.list() == []
    assert _new_dirs(store) == [] and os.listdir(store.content.ingest_dir) == []


def test_pull_digest_mismatch_leaves_no_unpacked_directory(store, registry):
    publish(registry, "test/img", "v1", [L1, L2])
    for desc in json.loads(registry.manifests[("test/img", "v1")][0])["layers"]:
        registry.corrupt[desc["digest"]] = gzip.compress(L1, mtime=0)
    with pytest.raises(errors.Unavailable, match="filesystem layer verification failed"):
        pull(store, registry.host + "/test/img:v1")
    assert store.snapshots.list() == [] and _new_dirs(store) == []


def test_pull_unpacks_a_kept_blob_whose_snapshot_is_gone(store, registry):
    publish(registry, "test/img", "v1", [L1, L2])
    ref = registry.host + "/test/img:v1"
    pull(store, ref)
    img = store.get(ref)
    # lose the top snapshot's directory (as after a crash): reconcile drops it, a pull redoes it
    top = store.snapshots.fs_path(img.chain_id)
    import shutil
    shutil.rmtree(os.path.dirname(top))
    store.snapshots.reconcile()
    gets = registry.count("GET", r"/blobs/")
    pull(store, ref)
    assert registry.count("GET", r"/blobs/") == gets      # unpacked from the stored blob
    assert open(os.path.join(store.snapshots.fs_path(img.chain_id), "etc/motd"), "rb").read() == b"registry\n"


def test_pushing_a_commit_on_a_pulled_image_gzips_only_the_new_layer(store, registry):
    publish(registry, "test/img", "v1", [L1])
    ref = registry.host + "/test/img:v1"
    pull(store, ref)
    img = store.get(ref)
    key = "c" * 64
    store.snapshots.prepare(key, img.chain_id)
    with open(os.path.join(store.snapshots.fs_path(key), "new.txt"), "wb") as f:
        f.write(b"new\n")
    new = store.commit(key, parent_image=ref, repo_tag=registry.host + "/test/next:1")
    [(_, digest, _)], _ = push(store, registry.host + "/test/next:1")
    body, _ = registry.manifests[("test/next", "1")]
    layers = json.loads(body)["layers"]
    pulled = json.loads(registry.manifests[("test/img", "v1")][0])["layers"]
    assert layers[0]["digest"] == pulled[0]["digest"] and len(layers) == 2
    assert new.diff_ids[0] == img.diff_ids[0]
