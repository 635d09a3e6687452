import bz2
import gzip
import io
import json
import lzma
import os
import tarfile

import pytest

from dockyard_common import errors
from dockyard_images import archive, diff
from helpers import digest, docker_archive, entry, image_config, make_tar, oci_archive

LAYER = make_tar([entry("f", data=b"content")])


def open_bytes(data):
    return archive.open_archive(io.BytesIO(data))


def test_docker_archive():
    data = docker_archive([([LAYER], ["docker.io/library/x:1", "y"], None)])
    [img] = archive.read_images(open_bytes(data))
    assert img.repo_tags == ["x:1", "y:latest"]
    assert json.loads(img.config)["rootfs"]["diff_ids"] == [digest(LAYER)]
    with archive.open_layer(open_bytes(data), img.layers[0]) as f:
        assert f.read() == LAYER


def test_docker_archive_with_dot_slash_names_and_symlinked_layer():
    config = image_config([LAYER, LAYER])
    manifest = json.dumps([{"Config": "cfg.json", "RepoTags": None,
                            "Layers": ["a/layer.tar", "b/layer.tar"]}]).encode()
    data = make_tar([entry("./a/layer.tar", data=LAYER),
                     entry("./b/layer.tar", "symlink", linkname="../a/layer.tar"),
                     entry("./cfg.json", data=config), entry("./manifest.json", data=manifest)])
    tar = open_bytes(data)
    [img] = archive.read_images(tar)
    assert img.repo_tags == []
    with archive.open_layer(tar, img.layers[1]) as f:
        assert f.read() == LAYER


def test_oci_archive_with_nested_index():
    data = oci_archive([LAYER], "localhost:5000/app:v2", gzip_layers=True)
    [img] = archive.read_images(open_bytes(data))
    assert img.repo_tags == ["localhost:5000/app:v2"]
    assert img.config_digest == digest(img.config)
    with archive.open_layer(open_bytes(data), img.layers[0]) as f:
        assert f.read() == LAYER


def test_oci_ref_name_only_tag_gives_no_repo_tag():
    data = oci_archive([LAYER], "")
    [img] = archive.read_images(open_bytes(data))
    assert img.repo_tags == []


@pytest.mark.parametrize("compress", [lambda d: d, gzip.compress, bz2.compress, lzma.compress])
def test_decompressed(compress):
    assert archive.decompressed(io.BytesIO(compress(LAYER))).read() == LAYER


def test_bad_archives():
    with pytest.raises(errors.InvalidArgument, match="no manifest.json"):
        archive.read_images(open_bytes(make_tar([entry("x", data=b"1")])))
    with pytest.raises(errors.InvalidArgument, match="missing"):
        archive.read_images(open_bytes(make_tar([entry("manifest.json", data=b'[{"Config":"c","Layers":[]}]')])))
    with pytest.raises(errors.InvalidArgument):
        archive.read_images(open_bytes(make_tar([entry("manifest.json", data=b"{not json")])))
    with pytest.raises(errors.InvalidArgument):
        archive.open_archive(io.BytesIO(b"nope" * 300))


def test_tar_stream_is_a_valid_tar():
    out = archive.TarStream(mtime=5)
    big = os.urandom(3 * archive.CHUNK + 17)
    chunks = []
    chunks += out.dir("d")
    chunks += out.add_bytes("d/small", b"abc")
    chunks += list(out.add_file("d/big", io.BytesIO(big), len(big)))
    chunks += out.close()
    assert max(len(c) for c in chunks) < 2 * archive.CHUNK
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert tar.getnames() == ["d", "d/small", "d/big"]
        assert tar.extractfile("d/big").read() == big
        assert tar.getmember("d/small").mtime == 5


def test_diff_is_deterministic(tmp_path):
    up = tmp_path / "upper"
    (up / "b").mkdir(parents=True)
    (up / "b/file").write_bytes(b"data")
    os.link(up / "b/file", up / "hard")
    os.symlink("/b/file", up / "sym")
    outs = []
    for _ in range(2):
        buf = io.BytesIO()
        diff.write_layer(str(up), buf)
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]
    with tarfile.open(fileobj=io.BytesIO(outs[0])) as tar:
        assert tar.getnames() == ["b", "b/file", "hard", "sym"]
        assert tar.getmember("hard").islnk() and tar.getmember("hard").linkname == "b/file"
        assert tar.getmember("sym").linkname == "/b/file"
