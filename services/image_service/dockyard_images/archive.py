"""Image archives: reading docker-archive / OCI-archive tarballs and streaming docker-archives.

Reading works on a seekable spooled file, so no archive is ever held in memory; each layer is
handed out as a file object decompressed on the fly (gzip, bzip2, xz, zstd, or plain).
"""

import bz2
import gzip
import io
import json
import lzma
import posixpath
import tarfile
from dataclasses import dataclass, field

from dockyard_common import errors, safetar

from dockyard_common import reference

from . import zstd

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
CHUNK = 1024 * 1024


@dataclass
class ArchiveImage:
    config: bytes                      # the config blob, verbatim
    config_digest: str = ""            # expected digest when the archive names one (OCI)
    layers: list = field(default_factory=list)   # member names inside the archive
    repo_tags: list = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------

def open_archive(fileobj):
    try:
        return tarfile.open(fileobj=fileobj, mode="r:*")
    except tarfile.TarError as exc:
        raise tar_failure(str(exc)) from None


def tar_failure(detail):
    """dockerd's words for a stream that is no tar (its untar child exits 1 with Go's error)."""
    short = any(w in detail for w in ("truncated", "empty", "unexpected end", "EOF"))
    return errors.InvalidArgument("Error processing tar file(exit status 1): %s" % (
        "unexpected EOF" if short else "archive/tar: invalid tar header"))


def _norm(name):
    return posixpath.normpath(name.lstrip("/")) if name else ""


def _index(tar):
    """Members by normalized name ("./x" and "x" are the same), built once per archive."""
    idx = getattr(tar, "_dockyard_index", None)
    if idx is None:
        idx = {_norm(m.name): m for m in tar.getmembers()}
        tar._dockyard_index = idx
    return idx


def _member(tar, name):
    try:
        return _index(tar)[_norm(name)]
    except KeyError:
        raise errors.InvalidArgument("invalid archive: %s is missing" % name) from None


def read_small(tar, name, limit=64 * 1024 * 1024):
    """A JSON document or config from the archive (bounded, these are small)."""
    f = tar.extractfile(_member(tar, name))
    if f is None:
        raise errors.InvalidArgument("invalid archive: %s is not a file" % name)
    data = f.read(limit + 1)
    if len(data) > limit:
        raise errors.InvalidArgument("invalid archive: %s is too large" % name)
    return data


def _json(tar, name):
    try:
        return json.loads(read_small(tar, name))
    except ValueError as exc:
        raise errors.InvalidArgument("invalid archive: %s: %s" % (name, exc)) from None


def read_images(tar):
    """The images an archive holds, docker-archive (manifest.json) first, else OCI layout."""
    names = _index(tar)
    if "manifest.json" in names:
        return _read_docker(tar)
    if "index.json" in names:
        return _read_oci(tar)
    raise errors.InvalidArgument("invalid archive: no manifest.json or index.json found")


def _read_docker(tar):
    manifest = _json(tar, "manifest.json")
    if not isinstance(manifest, list):
        raise errors.InvalidArgument("invalid archive: manifest.json is not a list")
    out = []
    for entry in manifest:
        try:
            config_name, layers = entry["Config"], list(entry.get("Layers") or [])
        except (KeyError, TypeError):
            raise errors.InvalidArgument("invalid archive: bad manifest.json entry") from None
        tags = [reference.normalize_tag(t) for t in entry.get("RepoTags") or []]
        out.append(ArchiveImage(read_small(tar, config_name), "", layers, tags))
    return out


def _blob_name(digest):
    algo, _, hexpart = (digest or "").partition(":")
    if algo != "sha256" or len(hexpart) != 64:
        raise errors.InvalidArgument("invalid archive: unsupported digest %r" % digest)
    return "blobs/sha256/" + hexpart


def _read_oci(tar):
    out = []

    def walk(desc, name_hint):
        media = desc.get("mediaType", "")
        doc = _json(tar, _blob_name(desc.get("digest")))
        annotations = desc.get("annotations") or {}
        name = annotations.get("io.containerd.image.name") or name_hint
        if not name:
            ref_name = annotations.get("org.opencontainers.image.ref.name", "")
            name = ref_name if (":" in ref_name or "/" in ref_name) else ""
        if media in (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST) or "manifests" in doc:
            for sub in doc.get("manifests") or []:
                platform = sub.get("platform") or {}
                if platform and (platform.get("os"), platform.get("architecture")) not in (
                        ("linux", "amd64"), (None, None)):
                    continue
                walk(sub, name)
            return
        config_desc = doc.get("config") or {}
        img = ArchiveImage(read_small(tar, _blob_name(config_desc.get("digest"))),
                           config_desc.get("digest", ""),
                           [_blob_name(l.get("digest")) for l in doc.get("layers") or []])
        if name:
            try:
                img.repo_tags = [reference.normalize_tag(name)]
            except errors.InvalidArgument:
                pass
        out.append(img)

    index = _json(tar, "index.json")
    for desc in index.get("manifests") or []:
        walk(desc, "")
    return out


def open_layer(tar, name):
    """The layer `name` of the archive as an uncompressed stream (follows in-archive links)."""
    f = tar.extractfile(_member(tar, name))
    if f is None:
        raise errors.InvalidArgument("invalid archive: layer %s is not a file" % name)
    return decompressed(f)


def decompressed(fileobj):
    """Wrap a stream so it reads uncompressed bytes, sniffing gzip / bzip2 / xz / zstd magic."""
    buf = fileobj if hasattr(fileobj, "peek") else io.BufferedReader(fileobj, CHUNK)
    head = buf.peek(6)[:6]
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=buf, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(buf, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(buf, "rb")
    if head.startswith(zstd.MAGIC):
        return zstd.ZstdReader(buf, CHUNK)
    return buf


# --------------------------------------------------------------------------------------------
# writing (docker save): a tar generated header by header, so it streams without a temp file
# --------------------------------------------------------------------------------------------

TarStream = safetar.TarStream


def dump_json(obj):
    return json.dumps(obj, separators=(",", ":")).encode()
