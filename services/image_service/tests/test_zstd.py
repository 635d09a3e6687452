"""zstd-compressed layers: the frame walker, the streaming reader, docker load of an OCI archive
with tar+zstd layers, pull from the fake registry (digest of the compressed blob, diff id of the
tar), and push, which sends gzip as Docker does."""

import io
import json
import os
import tarfile

import pytest
import zstandard

from dockyard_common import errors
from dockyard_images import archive, distribution as dist, unpack
from dockyard_images.pull import Puller
from dockyard_images.push import Pusher
from dockyard_images.registry import RegistrySettings
from dockyard_images.zstd import FrameWalker, ZstdReader
from fake_registry import sha
from helpers import chunks, digest, entry, image_config, make_tar

ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
L1 = make_tar([entry("bin", "dir"), entry("bin/tool", data=b"\x7fELF" + os.urandom(200_000), mode=0o755)])
L2 = make_tar([entry("etc", "dir"), entry("etc/motd", data=b"zstd layer\n" * 5000)])


def zst(data, **kw):
    return zstandard.ZstdCompressor(**kw).compress(data)


def read_all(f, n=7000):
    out = bytearray()
    while True:
        data = f.read(n)
        if not data:
            return bytes(out)
        out += data


# ---------------------------------------------------------------------------------------------
# the stream
# ---------------------------------------------------------------------------------------------

def _walk(data, step):
    w = FrameWalker()
    for i in range(0, len(data), step):
        w.feed(data[i:i + step])
    return w.complete()


@pytest.mark.parametrize("kw", [{}, {"write_checksum": True}, {"write_content_size": False},
                                {"level": 19, "write_dict_id": False}])
def test_frame_walker_follows_whole_frames_and_notices_cut_ones(kw):
    data = zst(L1, **kw) + zst(b"") + zst(L2, **kw)
    skippable = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"hello"
    for step in (1, 3, 4096, len(data)):
        assert _walk(data, step)
        assert _walk(skippable + data, step)
    for cut in (1, 4, 5, 9, len(data) // 2, len(data) - 1):
        assert not _walk(data[:cut], 1000)
    with pytest.raises(ValueError, match="not a zstd frame"):
        _walk(data + b"\0\0\0\0", 1000)


def test_reader_streams_multi_frame_input_in_bounded_reads():
    data = zst(L1) + zst(L2, write_checksum=True)
    r = ZstdReader(io.BytesIO(data), chunk=4096)
    sizes = []
    out = bytearray()
    while True:
        got = r.read(4096)
        if not got:
            break
        sizes.append(len(got))
        out += got
    assert bytes(out) == L1 + L2 and max(sizes) <= 4096


@pytest.mark.parametrize("bad", [lambda d: d[:-3], lambda d: d[:len(d) // 2],
                                 lambda d: d + b"junk", lambda d: d[:10] + b"\xff" * 40 + d[50:]])
def test_reader_refuses_cut_or_corrupt_input(bad):
    data = bad(zst(L2, write_checksum=True))
    with pytest.raises(errors.InvalidArgument, match="invalid zstd stream"):
        read_all(ZstdReader(io.BytesIO(data)))


def test_archive_and_layer_reader_sniff_zstd():
    data = zst(L1)
    assert read_all(archive.decompressed(io.BytesIO(data))) == L1
    reader = unpack.LayerReader(chunks(data, 777))
    assert read_all(reader) == L1
    reader.drain()
    assert reader.diff_id() == digest(L1) and reader.size == len(L1)
    with pytest.raises(errors.InvalidArgument):
        unpack.unpack_chunks(chunks(data[:-10], 500), None)


def test_unpack_chunks_of_a_zstd_layer(tmp_path):
    size, diff_id, tar_size = unpack.unpack_chunks(chunks(zst(L2), 1000), str(tmp_path))
    assert diff_id == digest(L2) and tar_size == len(L2)
    assert (tmp_path / "etc/motd").read_bytes() == b"zstd layer\n" * 5000


# ---------------------------------------------------------------------------------------------
# docker load of an OCI archive
# ---------------------------------------------------------------------------------------------

def oci_archive_zstd(layers, name):
    config = image_config(layers)
    members = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    descs = []
    for layer in layers:
        blob = zst(layer)
        members["blobs/sha256/" + digest(blob)[7:]] = blob
        descs.append({"mediaType": ZSTD_LAYER, "digest": digest(blob), "size": len(blob)})
    members["blobs/sha256/" + digest(config)[7:]] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": dist.OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest(config), "size": len(config)},
                           "layers": descs}).encode()
    members["blobs/sha256/" + digest(manifest)[7:]] = manifest
    members["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": dist.OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
        "annotations": {"io.containerd.image.name": name}}]}).encode()
    return make_tar([entry(n, data=d) for n, d in members.items()]), digest(config)


def test_load_oci_archive_with_zstd_layers_and_save_it(store):
    data, config_digest = oci_archive_zstd([L1, L2], "docker.io/library/zst:v1")
    assert store.load(chunks(data, 65536)) == [{"id": config_digest, "repo_tags": ["zst:v1"]}]
    img = store.get("zst:v1")
    assert img.diff_ids == [digest(L1), digest(L2)]
    motd = os.path.join(store.snapshots.fs_path(img.chain_id), "etc/motd")
    assert open(motd, "rb").read() == b"zstd layer\n" * 5000
    saved = b"".join(store.save(["zst:v1"]))
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:       # docker save writes plain tars
        manifest = json.load(tar.extractfile("manifest.json"))
        assert [tar.extractfile(n).read() for n in manifest[0]["Layers"]] == [L1, L2]


def test_load_of_a_cut_zstd_layer_keeps_nothing(store):
    data, _ = oci_archive_zstd([L2], "zst:bad")
    blob = zst(L2)
    data = data.replace(blob, blob[:-8] + b"\0" * 8)
    with pytest.raises(errors.InvalidArgument):
        store.load(chunks(data, 65536))
    assert store.list(all=True) == [] and store.snapshots.list() == []


# ---------------------------------------------------------------------------------------------
# pull and push through the fake registry
# ---------------------------------------------------------------------------------------------

def publish_zstd(reg, repo, tag, layers):
    config = image_config(layers)
    descs = [{"mediaType": ZSTD_LAYER, "size": len(b), "digest": reg.add_blob(repo, b)}
             for b in (zst(layer) for layer in layers)]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": dist.OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "size": len(config), "digest": reg.add_blob(repo, config)},
                           "layers": descs}).encode()
    return reg.add_manifest(repo, tag, manifest, dist.OCI_MANIFEST), sha(config), descs


class Events(list):
    def __call__(self, **event):
        self.append(event)


def test_pull_zstd_layers_then_push_sends_gzip(store, registry):
    mdigest, cfg, descs = publish_zstd(registry, "test/zst", "v1", [L1, L2])
    ref = registry.host + "/test/zst:v1"
    ev = Events()
    assert Puller(store, RegistrySettings()).pull(ref, ev) == (cfg, mdigest)
    assert [e["status"] for e in ev].count("Pull complete") == 2
    img = store.get(ref)
    assert img.diff_ids == [digest(L1), digest(L2)]
    for desc, diff_id in zip(descs, img.diff_ids):
        assert store.content.exists(desc["digest"]) and not store.content.exists(diff_id)
        assert store.dist.layer_blob(desc["digest"])["media_type"] == ZSTD_LAYER
    motd = os.path.join(store.snapshots.fs_path(img.chain_id), "etc/motd")
    assert open(motd, "rb").read() == b"zstd layer\n" * 5000

    store.tag(ref, registry.host + "/test/again:v1")
    [(_, pushed, _)] = Pusher(store, RegistrySettings()).push(registry.host + "/test/again:v1", Events())
    body, media = registry.manifests[("test/again", "v1")]
    assert media == dist.DOCKER_MANIFEST and pushed == sha(body) != mdigest
    layers = json.loads(body)["layers"]
    assert [l["mediaType"] for l in layers] == [dist.DOCKER_LAYER_GZIP] * 2
    import gzip
    assert [gzip.decompress(registry.blobs[l["digest"]]) for l in layers] == [L1, L2]


def test_pull_of_a_cut_zstd_blob_with_its_own_digest_keeps_nothing(store, registry):
    config = image_config([L2])
    blob = zst(L2)[:-6]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": dist.OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "size": len(config), "digest": registry.add_blob("t/cut", config)},
                           "layers": [{"mediaType": ZSTD_LAYER, "size": len(blob),
                                       "digest": registry.add_blob("t/cut", blob)}]}).encode()
    registry.add_manifest("t/cut", "1", manifest, dist.OCI_MANIFEST)
    with pytest.raises(errors.Unavailable, match="not a valid compressed tar"):
        Puller(store, RegistrySettings()).pull(registry.host + "/t/cut:1", Events())
    assert store.content.list() == [] and store.snapshots.list() == []


def test_import_of_a_zstd_compressed_rootfs(store):
    img = store.import_({"repo_tag": "imported:zst", "os": "linux", "architecture": "amd64"},
                        chunks(zst(L2), 999))
    assert img.diff_ids == [digest(L2)]
    with pytest.raises(errors.InvalidArgument):
        store.import_({"repo_tag": "imported:cut"}, chunks(zst(L2)[:-9], 999))
