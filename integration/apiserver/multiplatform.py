"""A two-platform image in a registry, PUT blob by blob by the test itself (no internet, no
buildx): an amd64 image (busybox) and a fake linux/arm64/v8 one (the same amd64 busybox layer,
so it still runs here, with an arm64 config), plus a manifest list naming both. Each image has
a second layer with /platform holding its name, so `cat /platform` tells which one was chosen."""

import gzip
import hashlib
import io
import json
import tarfile
import urllib.request

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, dict(resp.headers)


def put_blob(host, repo, data):
    """A monolithic upload: POST for a location, then PUT ?digest= with the whole blob."""
    digest = sha256(data)
    _, headers = _request("POST", "http://%s/v2/%s/blobs/uploads/" % (host, repo), b"")
    location = headers["Location"]
    if location.startswith("/"):
        location = "http://%s%s" % (host, location)
    sep = "&" if "?" in location else "?"
    _request("PUT", "%s%sdigest=%s" % (location, sep, digest), data,
             {"Content-Type": "application/octet-stream"})
    return digest


def put_manifest(host, repo, ref, doc, media):
    body = json.dumps(doc, indent=3).encode()
    _request("PUT", "http://%s/v2/%s/manifests/%s" % (host, repo, ref), body, {"Content-Type": media})
    return sha256(body), len(body)


def _gzip(data):
    return gzip.compress(data, mtime=0)


def _file_layer(name, content):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(content), 0o644, 0
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def busybox_parts(busybox_tar):
    """(config dict, layer tar bytes) of the busybox image in a docker-save archive."""
    with tarfile.open(busybox_tar) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        config = json.load(tar.extractfile(manifest["Config"]))
        layer = tar.extractfile(manifest["Layers"][0]).read()
    return config, layer


def push_image(host, repo, base_config, base_layer, arch, variant="", tag=None):
    """One image (busybox + /platform) for arch[/variant]; returns (manifest digest, size,
    image id = config digest)."""
    marker = _file_layer("platform", ("linux/%s%s\n" % (arch, "/" + variant if variant else "")).encode())
    layers = []
    for tar in (base_layer, marker):
        blob = _gzip(tar)
        layers.append({"mediaType": LAYER, "size": len(blob), "digest": put_blob(host, repo, blob)})
    config = dict(base_config, architecture=arch, os="linux")
    config.pop("variant", None)
    if variant:
        config["variant"] = variant
    config["rootfs"] = {"type": "layers", "diff_ids": [sha256(base_layer), sha256(marker)]}
    config["history"] = list(base_config.get("history") or []) + [
        {"created": "2024-01-01T00:00:00Z", "created_by": "platform marker"}]
    raw = json.dumps(config).encode()
    config_digest = put_blob(host, repo, raw)
    doc = {"schemaVersion": 2, "mediaType": MANIFEST,
           "config": {"mediaType": CONFIG, "size": len(raw), "digest": config_digest},
           "layers": layers}
    digest, size = put_manifest(host, repo, tag or "tmp-" + arch, doc, MANIFEST)
    return digest, size, config_digest


def push_two_platforms(host, repo, busybox_tar, tag="multi"):
    """The index under `tag`, the amd64 image alone under "amd64only" and the arm64 one under
    "arm64only". Returns {"index": digest, "amd64": image id, "arm64": image id}."""
    base_config, base_layer = busybox_parts(busybox_tar)
    amd = push_image(host, repo, base_config, base_layer, "amd64", tag="amd64only")
    arm = push_image(host, repo, base_config, base_layer, "arm64", "v8", tag="arm64only")
    index = {"schemaVersion": 2, "mediaType": LIST, "manifests": [
        {"mediaType": MANIFEST, "size": arm[1], "digest": arm[0],
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": MANIFEST, "size": amd[1], "digest": amd[0],
         "platform": {"architecture": "amd64", "os": "linux"}}]}
    top, _ = put_manifest(host, repo, tag, index, LIST)
    return {"index": top, "amd64": amd[2], "arm64": arm[2],
            "amd64_manifest": amd[0], "arm64_manifest": arm[0]}
