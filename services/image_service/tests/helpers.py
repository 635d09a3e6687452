"""Builders for tars, layers and image archives used by the unit tests."""

import hashlib
import io
import json
import tarfile


def entry(name, kind="file", data=b"", mode=None, linkname="", mtime=1_600_000_000, uid=0, gid=0,
          major=0, minor=0, pax=None):
    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE,
                 "fifo": tarfile.FIFOTYPE}[kind]
    info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
    info.linkname = linkname
    info.mtime = mtime
    info.uid, info.gid = uid, gid
    info.devmajor, info.devminor = major, minor
    if pax:
        info.pax_headers = pax
    info.size = len(data) if kind == "file" else 0
    return info, data


def make_tar(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(layers, cmd=("sh",), created="2024-01-01T00:00:00Z", history=None):
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Cmd": list(cmd), "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(l) for l in layers]},
        "history": history if history is not None else
        [{"created": created, "created_by": "layer %d" % i} for i in range(len(layers))],
    }).encode()


def docker_archive(images):
    """images: list of (layers [bytes], repo_tags, config bytes or None). Returns tar bytes."""
    members = {}
    manifest = []
    for layers, tags, config in images:
        config = config or image_config(layers)
        cname = digest(config)[7:] + ".json"
        members[cname] = config
        names = []
        for layer in layers:
            name = digest(layer)[7:] + "/layer.tar"
            members[name] = layer
            names.append(name)
        manifest.append({"Config": cname, "RepoTags": tags, "Layers": names})
    members["manifest.json"] = json.dumps(manifest).encode()
    return make_tar([entry(n, data=d) for n, d in members.items()])


def oci_archive(layers, name, config=None, gzip_layers=False):
    import gzip
    config = config or image_config(layers)
    members = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    descs = []
    for layer in layers:
        blob = gzip.compress(layer, mtime=0) if gzip_layers else layer
        members["blobs/sha256/" + digest(blob)[7:]] = blob
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else ""),
                      "digest": digest(blob), "size": len(blob)})
    members["blobs/sha256/" + digest(config)[7:]] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest(config), "size": len(config)},
                           "layers": descs}).encode()
    members["blobs/sha256/" + digest(manifest)[7:]] = manifest
    members["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": name,
                                               "org.opencontainers.image.ref.name": "latest"}}]}).encode()
    return make_tar([entry(n, data=d) for n, d in members.items()])


def chunks(data, size=1000):
    for i in range(0, len(data), size):
        yield data[i:i + size]
