"""docker pull: manifest (list) -> config -> layers, each blob verified while it streams into the
content store, then unpacked in order into committed snapshots.

Compressed blobs are kept as downloaded (by their digest) next to the uncompressed layer (by its
diff id), and so is the image manifest, so a push of the pulled image gives the same digest.
Layers download in parallel (a small pool); each is decompressed and unpacked as soon as it and
the layers below it are there. Everything the pull stores is leased, so gc leaves it alone
until the image is recorded; on failure a gc removes what was stored.
"""

import hashlib
import logging
import time
from concurrent import futures

import urllib3

from dockyard_common import errors, ids

from . import archive, distribution as dist, reference
from .images import chain_ids
from .progress import bar
from .registry import RegistryClient, RegistryError, parse_auth, scope

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
PROGRESS_EVERY = 512 * 1024
WORKERS = 3
MAX_CONFIG = 64 * 1024 * 1024


def _sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _short(digest):
    return ids.short(digest)


def not_found(err, ref):
    """Docker's notFoundError (distribution/errors.go) for a registry error on a manifest."""
    if err.code_name in ("DENIED", "UNAUTHORIZED"):
        return errors.NotFound("pull access denied for %s, repository does not exist or may require "
                               "'docker login': %s" % (ref.familiar_name, err))
    if err.code_name == "NAME_UNKNOWN":
        return errors.NotFound("repository %s not found: %s" % (ref.familiar_name, err))
    if err.code_name == "MANIFEST_UNKNOWN" or err.status == 404:
        if not err.code_name:
            err = RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown")
        return errors.NotFound("manifest for %s not found: %s" % (ref.familiar(), err))
    if err.status >= 500:
        return errors.Unavailable(str(err))
    return errors.FailedPrecondition(str(err))


class Puller:
    def __init__(self, store, settings, session_factory=None, workers=WORKERS):
        self.store = store
        self.settings = settings
        self.session_factory = session_factory
        self.workers = workers

    def pull(self, ref, emit, platform="", auth_json=""):
        """Pull ref, reporting through emit(**fields); returns (image_id, repo digest)."""
        parsed = reference.parse(ref).with_default_tag()
        auth = parse_auth(auth_json)
        platform = platform or "linux/amd64"
        dist.parse_platform(platform)
        endpoints = self.settings.endpoints(parsed.domain)
        for i, base in enumerate(endpoints):
            client = RegistryClient(base, auth, [scope(parsed.path, "pull")], self.settings,
                                    self.session_factory() if self.session_factory else None)
            try:
                return _Pull(self, client, parsed, platform, emit).run()
            except errors.DockyardError as exc:
                if i + 1 == len(endpoints):
                    raise
                log.warning("pull of %s from mirror %s failed, trying the next endpoint: %s",
                            parsed, base, exc)
            finally:
                client.close()


class _Pull:
    def __init__(self, puller, client, ref, platform, emit):
        self.store = puller.store
        self.workers = puller.workers
        self.client = client
        self.ref = ref
        self.platform = platform
        self.emit = emit
        self.repo = "%s/%s" % (client.host, ref.path)   # where the blobs are known to live

    # -- manifests --------------------------------------------------------------------------------
    def _manifest(self, ref_or_digest, expect_digest=""):
        try:
            resp, body = self.client.get_manifest(self.ref.path, ref_or_digest, dist.ACCEPT)
        except RegistryError as exc:
            raise not_found(exc, self.ref) from None
        digest = _sha256(body)
        if expect_digest and digest != expect_digest:
            raise errors.Unavailable("manifest verification failed for digest %s" % expect_digest)
        doc = dist.parse_json(body)
        media = dist.media_type_of(doc, resp.headers.get("Content-Type", ""))
        return body, doc, media, digest

    def resolve(self):
        """(top digest, image manifest bytes, doc, media type, its digest)."""
        target = self.ref.digest or self.ref.tag
        body, doc, media, digest = self._manifest(target, self.ref.digest)
        top = digest
        if media in dist.INDEX_TYPES:
            desc = dist.select_platform(doc, self.platform)
            body, doc, media, digest = self._manifest(desc["digest"], desc["digest"])
        if media in dist.DOCKER_SCHEMA1:
            raise errors.FailedPrecondition(
                "%s: Docker Image manifest version 2, schema 1 is not supported" % self.ref.familiar())
        if media not in dist.MANIFEST_TYPES:
            raise errors.FailedPrecondition("unsupported manifest media type %r" % media)
        return top, body, doc, media, digest

    # -- the pull ---------------------------------------------------------------------------------
    def run(self):
        self.client.ping()
        self.emit(id=self.ref.digest or self.ref.tag, status="Pulling from " + self.ref.path)
        top, body, doc, media, manifest_digest = self.resolve()
        config_desc, layers = dist.manifest_layers(doc)
        config_digest = config_desc["digest"]
        for layer in layers:
            if "zstd" in layer.get("mediaType", ""):
                raise errors.FailedPrecondition("%s: zstd-compressed layers are not supported"
                                                % self.ref.familiar())
        try:
            with self.store.lease([config_digest, manifest_digest] + [l["digest"] for l in layers]) as lease:
                config = self._config(config_digest)
                diff_ids = self._diff_ids(config, layers)
                for key in diff_ids + chain_ids(diff_ids):
                    lease.add(key)
                self._layers(layers, diff_ids)
                image_id = self._record(config, config_digest, body, media, manifest_digest, top)
        except BaseException:
            self.store.gc()    # nothing of a failed pull stays behind
            raise
        return image_id, top

    def _config(self, digest):
        content = self.store.content
        if not content.exists(digest):
            resp = self.client_blob(digest)
            try:
                self._stream_into(resp, digest, limit=MAX_CONFIG)
            finally:
                resp.close()
        if content.size(digest) > MAX_CONFIG:
            raise errors.Unavailable("image config %s is too large" % digest)
        return content.read(digest)

    def _diff_ids(self, config, layers):
        cfg = dist.parse_json(config, "image config")
        diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(layers):
            raise errors.Unavailable("image config has %d diff ids for %d layers"
                                     % (len(diff_ids), len(layers)))
        for d in diff_ids:
            if not isinstance(d, str) or not d.startswith("sha256:") or len(d) != 71:
                raise errors.Unavailable("image config has an invalid diff id %r" % (d,))
        return diff_ids

    def client_blob(self, digest):
        try:
            return self.client.get_blob(self.ref.path, digest)
        except RegistryError as exc:
            raise errors.NotFound("%s: %s" % (digest, exc)) if exc.status == 404 else \
                errors.Unavailable(str(exc)) from None

    def _stream_into(self, resp, digest, limit=0, on_chunk=None):
        """Write the response body into the content store, verified against digest."""
        try:
            with self.store.content.writer(digest) as w:
                for chunk in resp.raw.stream(CHUNK, decode_content=False):
                    w.write(chunk)
                    if limit and w.size > limit:
                        raise errors.Unavailable("filesystem layer verification failed for digest %s: "
                                                 "larger than its %d bytes" % (digest, limit))
                    if on_chunk:
                        on_chunk(w.size)
        except errors.InvalidArgument:   # the store's digest check
            raise errors.Unavailable("filesystem layer verification failed for digest %s"
                                     % digest) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise errors.Unavailable("error pulling %s: %s" % (digest, exc)) from None

    # -- layers ------------------------------------------------------------------------------------
    def _layers(self, layers, diff_ids):
        content = self.store.content
        pending = {}   # digest -> future, each blob downloaded once
        present = [content.exists(l["digest"]) and content.exists(d) for l, d in zip(layers, diff_ids)]
        for desc, have in zip(layers, present):
            if have:
                self.emit(id=_short(desc["digest"]), status="Already exists")
            elif desc["digest"] not in pending:
                self.emit(id=_short(desc["digest"]), status="Pulling fs layer")
        with futures.ThreadPoolExecutor(self.workers, thread_name_prefix="pull") as pool:
            try:
                for desc, have in zip(layers, present):
                    if not have and desc["digest"] not in pending:
                        if len(pending) >= self.workers:
                            self.emit(id=_short(desc["digest"]), status="Waiting")
                        pending[desc["digest"]] = pool.submit(self._download, desc)
                for i, (desc, diff_id, have) in enumerate(zip(layers, diff_ids, present)):
                    if not have:
                        pending[desc["digest"]].result()
                        self._extract(desc, diff_id)
                    self.store._ensure_snapshot(diff_ids[:i + 1])
                    self.store.dist.add_layer_blob(desc["digest"], diff_id, desc.get("mediaType", ""),
                                                   content.size(desc["digest"]))
                    self.store.dist.add_blob_repo(desc["digest"], self.repo)
                    if not have:
                        self.emit(id=_short(desc["digest"]), status="Pull complete")
            except BaseException:
                for f in pending.values():
                    f.cancel()
                raise

    def _download(self, desc):
        digest, size, short = desc["digest"], int(desc.get("size") or 0), _short(desc["digest"])
        if self.store.content.exists(digest):
            self.emit(id=short, status="Download complete")
            return
        resp = self.client_blob(digest)
        total = size or int(resp.headers.get("Content-Length") or 0)
        last = [0]

        def on_chunk(done):
            if done - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = done
                self.emit(id=short, status="Downloading", progress=bar(done, total),
                          current=done, total=total)
        try:
            self._stream_into(resp, digest, limit=size, on_chunk=on_chunk)
        finally:
            resp.close()
        self.emit(id=short, status="Verifying Checksum")
        self.emit(id=short, status="Download complete")

    def _extract(self, desc, diff_id):
        """The uncompressed layer, stored by its diff id (verified); unpacked by _ensure_snapshot."""
        content, short = self.store.content, _short(desc["digest"])
        if content.exists(diff_id):
            return
        total = content.size(desc["digest"])
        with content.open(desc["digest"]) as f:
            counted = _Counting(f, lambda n: self.emit(
                id=short, status="Extracting", progress=bar(n, total), current=n, total=total))
            try:
                self.store._store_layer(archive.decompressed(counted), diff_id)
            except errors.InvalidArgument as exc:
                # The blob matched its digest but does not hold the layer the config names.
                content.delete(desc["digest"])
                raise errors.Unavailable("layer %s does not match diff id %s: %s"
                                         % (desc["digest"], diff_id, exc)) from None
            except (OSError, EOFError) as exc:
                content.delete(desc["digest"])
                raise errors.Unavailable("layer %s is not a valid compressed tar: %s"
                                         % (desc["digest"], exc)) from None

    # -- recording ---------------------------------------------------------------------------------
    def _record(self, config, config_digest, body, media, manifest_digest, top):
        store = self.store
        with store.lock:
            table = "tags" if self.ref.tag else "repo_digests"
            row = store.db.one("SELECT image_id FROM %s WHERE ref = ?" % table, (self.ref.familiar(),))
            before = row["image_id"] if row else None
            store.content.put_bytes(body, manifest_digest)
            image_id = store._add_image(config, expected_digest=config_digest)
            store.dist.add_manifest(manifest_digest, image_id, media, time.time_ns())
            store.set_repo_digest("%s@%s" % (self.ref.familiar_name, top), image_id)
            if self.ref.tag:
                store._set_tag(self.ref.familiar(), image_id)
        self.emit(status="Digest: " + top)
        verdict = "Image is up to date for " if before == image_id else "Downloaded newer image for "
        self.emit(status="Status: " + verdict + self.ref.familiar())
        log.info("pulled %s as image %s (%s)", self.ref.familiar(), image_id, top)
        return image_id


class _Counting:
    """A read-only file wrapper that reports the bytes read so far (throttled)."""

    def __init__(self, f, report):
        self.f = f
        self.report = report
        self.n = 0
        self.last = 0

    def read(self, size=-1):
        data = self.f.read(size)
        self.n += len(data)
        if self.n - self.last >= PROGRESS_EVERY or (not data and self.n != self.last):
            self.last = self.n
            self.report(self.n)
        return data

    def readable(self):
        return True

    def peek(self, n=0):
        return self.f.peek(n) if hasattr(self.f, "peek") else b""
