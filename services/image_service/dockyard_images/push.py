"""docker push: layers (skipping those the registry has, mounting those another repository of
the same registry has), then the config, then the manifest; RepoDigests recorded.

A pulled (or already pushed) image is pushed with its stored manifest, so its digest does not
change, unless that manifest has zstd layers (Docker pushes gzip only). An image made here
(load, import, commit), or with zstd layers, gets gzip'd layer blobs made deterministically
(gzip mtime 0, fixed level, no file name), cached with their diff id, and a Docker v2 schema 2
manifest, so pushing it again gives the same digest.
"""

import gzip
import hashlib
import logging
import time
from concurrent import futures

from dockyard_common import errors, ids

from dockyard_common import reference

from . import distribution as dist
from .content import CHUNK
from .progress import bar
from .registry import RegistryClient, RegistryError, parse_auth, scope

log = logging.getLogger(__name__)

GZIP_LEVEL = 6
WORKERS = 3
PROGRESS_EVERY = 512 * 1024
GZIP_TYPES = (dist.DOCKER_LAYER_GZIP, "application/vnd.oci.image.layer.v1.tar+gzip")


class Pusher:
    def __init__(self, store, settings, session_factory=None, workers=WORKERS):
        self.store = store
        self.settings = settings
        self.session_factory = session_factory
        self.workers = workers

    def tags_to_push(self, parsed):
        if parsed.digest:
            raise errors.InvalidArgument("cannot push a digest reference: %s" % parsed.familiar())
        if parsed.tag:
            ref = parsed.familiar()
            if not self.store.db.one("SELECT 1 FROM tags WHERE ref = ?", (ref,)):
                raise errors.NotFound("tag does not exist: %s" % ref)
            return [parsed]
        prefix = parsed.familiar_name + ":"
        rows = self.store.db.query("SELECT ref FROM tags ORDER BY ref")
        tags = [reference.parse(r["ref"]) for r in rows if r["ref"].startswith(prefix)]
        if not tags:
            raise errors.NotFound("An image does not exist locally with the tag: %s"
                                  % parsed.familiar_name)
        return tags

    def _mount_candidates(self, host, tags):
        """Repositories of this registry that hold some blob of the images (bearer tokens
        must name them for a cross-repository mount)."""
        paths = set()
        for tag_ref in tags:
            for diff_id in self.store.get(tag_ref.familiar()).diff_ids:
                for blob in self.store.dist.blobs_for_diff(diff_id):
                    for repo in self.store.dist.blob_repos(blob["digest"]):
                        if repo.startswith(host + "/") and repo != host + "/" + tag_ref.path:
                            paths.add(repo[len(host) + 1:])
        return sorted(paths)[:10]

    def push(self, ref, emit, auth_json=""):
        """Push ref (a tag, or every tag of a repository); returns [(tag, digest, size)]."""
        parsed = reference.parse(ref)
        tags = self.tags_to_push(parsed)
        auth = parse_auth(auth_json)
        base = self.settings.endpoints(parsed.domain, push=True)[0]
        client = RegistryClient(base, auth, [scope(parsed.path, "pull,push")], self.settings,
                                self.session_factory() if self.session_factory else None)
        try:
            emit(status="The push refers to repository [%s]" % parsed.name)
            client.scopes += [scope(p, "pull") for p in self._mount_candidates(client.host, tags)]
            client.ping()
            results = []
            for tag_ref in tags:
                results.append(_Push(self, client, tag_ref, emit).run())
            return results
        finally:
            client.close()


class _Push:
    def __init__(self, pusher, client, ref, emit):
        self.store = pusher.store
        self.workers = pusher.workers
        self.client = client
        self.ref = ref
        self.emit = emit
        self.path = ref.path
        self.repo = "%s/%s" % (client.host, ref.path)

    def run(self):
        img = self.store.get(self.ref.familiar())
        for diff_id in img.diff_ids:
            self.emit(id=ids.short(diff_id), status="Preparing")
        plan = self._stored_manifest(img) or self._new_manifest(img)
        body, media, layer_descs = plan
        self._push_layers(img, layer_descs)
        self._push_config(img)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        try:
            reported = self.client.put_manifest(self.path, self.ref.tag, body, media)
        except RegistryError as exc:
            raise _push_error(exc) from None
        if reported and reported != digest:
            raise errors.Unavailable("registry reports manifest digest %s, expected %s"
                                     % (reported, digest))
        with self.store.lock:
            if not self.store.content.exists(digest):
                self.store.content.put_bytes(body, digest)
            self.store.dist.add_manifest(digest, img.id, media, time.time_ns())
            self.store.set_repo_digest("%s@%s" % (self.ref.familiar_name, digest), img.id)
        self.emit(status="%s: digest: %s size: %d" % (self.ref.tag, digest, len(body)))
        self.emit(id=self.ref.tag, digest=digest, size=len(body), done=True)
        log.info("pushed %s (%s)", self.ref.familiar(), digest)
        return self.ref.tag, digest, len(body)

    # -- manifests --------------------------------------------------------------------------------
    def _stored_manifest(self, img):
        """The image's recorded manifest, when its layer blobs are all still here."""
        content = self.store.content
        for rec in self.store.dist.manifests(img.id):
            if rec["media_type"] not in dist.MANIFEST_TYPES or not content.exists(rec["digest"]):
                continue
            body = content.read(rec["digest"])
            try:
                config, layers = dist.manifest_layers(dist.parse_json(body))
            except errors.DockyardError:
                continue
            if config["digest"] != img.id or len(layers) != len(img.diff_ids):
                continue
            descs = []
            for layer, diff_id in zip(layers, img.diff_ids):
                known = self.store.dist.layer_blob(layer["digest"])
                if not known or known["diff_id"] != diff_id or not content.exists(layer["digest"]):
                    break
                if "zstd" in (layer.get("mediaType") or ""):
                    break     # Docker pushes gzip'd layers only: a new manifest
                descs.append((layer["digest"], int(layer.get("size") or 0), diff_id))
            else:
                return body, rec["media_type"], descs
        return None

    def _new_manifest(self, img):
        descs = [(self._gzip_blob(d), None, d) for d in img.diff_ids]
        descs = [(digest, self.store.content.size(digest), d) for digest, _, d in descs]
        body = dist.build_manifest(img.id, len(img.config),
                                   [(digest, size, dist.DOCKER_LAYER_GZIP) for digest, size, _ in descs])
        return body, dist.DOCKER_MANIFEST, descs

    def _gzip_blob(self, diff_id):
        """The gzip'd blob of a layer: cached, else made deterministically and recorded."""
        content = self.store.content
        for known in self.store.dist.blobs_for_diff(diff_id):
            if known["media_type"] in GZIP_TYPES and content.exists(known["digest"]):
                return known["digest"]
        writer = content.writer()
        try:
            with self.store.open_layer(diff_id) as (src, _):
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=_Sink(writer),
                                   compresslevel=GZIP_LEVEL, mtime=0)
                while True:
                    data = src.read(CHUNK)
                    if not data:
                        break
                    gz.write(data)
                gz.close()
            with self.store.lock:     # commit and record at once: gc never sees it unrecorded
                digest = writer.commit()
                self.store.dist.add_layer_blob(digest, diff_id, dist.DOCKER_LAYER_GZIP,
                                               content.size(digest))
        except BaseException:
            writer.abort()
            raise
        return digest

    # -- blobs ------------------------------------------------------------------------------------
    def _push_layers(self, img, descs):
        with futures.ThreadPoolExecutor(self.workers, thread_name_prefix="push") as pool:
            jobs = []
            for i, desc in enumerate(descs):
                if i >= self.workers:
                    self.emit(id=ids.short(desc[2]), status="Waiting")
                jobs.append(pool.submit(self._push_layer, *desc))
            try:
                for job in jobs:
                    job.result()
            except BaseException:
                for job in jobs:
                    job.cancel()
                raise

    def _push_layer(self, digest, size, diff_id):
        short = ids.short(diff_id)
        status = self._push_blob(digest, short)
        self.emit(id=short, status=status)

    def _push_config(self, img):
        self._push_blob(img.id, None)

    def _push_blob(self, digest, short):
        """Make sure the target repository has the blob; returns Docker's status word."""
        try:
            if self.client.blob_exists(self.path, digest):
                self.store.dist.add_blob_repo(digest, self.repo)
                return "Layer already exists"
            location = None
            for source in self._mount_sources(digest):
                kind, location = self.client.start_upload(self.path, mount=digest, mount_from=source)
                if kind == "mounted":
                    self.store.dist.add_blob_repo(digest, self.repo)
                    return "Mounted from " + source
                break     # the 202 opened a normal upload: use it
            if location is None:
                _, location = self.client.start_upload(self.path)
            total = self.store.content.size(digest)
            location = self.client.upload(location, self._chunks(digest, short, total))
            self.client.commit_upload(location, digest)
        except RegistryError as exc:
            raise _push_error(exc) from None
        self.store.dist.add_blob_repo(digest, self.repo)
        return "Pushed"

    def _mount_sources(self, digest):
        """Other repositories of the same registry known to hold the blob (paths)."""
        host = self.client.host + "/"
        return [r[len(host):] for r in self.store.dist.blob_repos(digest)
                if r.startswith(host) and r != self.repo][:3]

    def _chunks(self, digest, short, total):
        done = last = 0
        with self.store.content.open(digest) as f:
            while True:
                data = f.read(CHUNK)
                if not data:
                    break
                done += len(data)
                if short and (done - last >= PROGRESS_EVERY or done == total):
                    last = done
                    self.emit(id=short, status="Pushing", progress=bar(done, total),
                              current=done, total=total)
                yield data


def _push_error(exc):
    if exc.code_name in ("UNAUTHORIZED", "DENIED"):
        return errors.FailedPrecondition(str(exc))
    if exc.status >= 500:
        return errors.Unavailable(str(exc))
    return errors.FailedPrecondition(str(exc))


class _Sink:
    """GzipFile wants a file; the content store's writer has write() only."""

    def __init__(self, writer):
        self.writer = writer

    def write(self, data):
        return self.writer.write(data)

    def flush(self):
        pass
