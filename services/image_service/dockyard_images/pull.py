"""docker pull: manifest (list) -> config -> layers, each blob verified while it streams.

A layer is handled in one pass: while its compressed blob downloads (thread 1: read, sha256,
write into the content store), the same chunks are decompressed, hashed for the diff id and
untarred by the safe extractor straight into a fresh snapshot directory (thread 2). No
uncompressed tar is written: the compressed blob is the stored layer (images.py decompresses it
for save). Only when the blob matched its digest and the tar its diff id is the directory
committed as the chain's snapshot, in chain order; otherwise nothing of it stays. Layers run in
parallel (a small pool). Layers may be gzip, zstd (OCI tar+zstd), bzip2, xz or plain tars:
LayerReader sniffs which. The manifest is kept too, so a push of the pulled image gives the same
digest (unless it has zstd layers: push sends gzip, as Docker). Everything the pull stores is
leased, so gc leaves it alone until the image is recorded; on failure a gc removes what was
stored.

`docker pull -a` (a bare name with all_tags) lists the repository's tags and pulls each in turn.
"""

import collections
import hashlib
import logging
import threading
import time
from concurrent import futures

from dockyard_common import errors, ids
from dockyard_common.layers import chain_ids

from dockyard_common import reference

from . import distribution as dist, snapshots, unpack
from .progress import bar
from .registry import RegistryClient, RegistryError, parse_auth, scope


def _urllib3_error():
    import urllib3   # with requests: only once a pull runs (registry.py says why)
    return urllib3.exceptions.HTTPError

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
PROGRESS_EVERY = 512 * 1024
WORKERS = 3
PIPE_DEPTH = 2       # chunks in flight between a layer's download and its unpacking
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

    def pull(self, ref, emit, platform="", auth_json="", all_tags=False):
        """Pull ref, reporting through emit(**fields); returns (image_id, repo digest).
        all_tags with a bare name: every tag of the repository (docker pull -a); returns ("", "")."""
        parsed = reference.parse(ref)
        all_tags = all_tags and not parsed.tag and not parsed.digest
        if not all_tags:
            parsed = parsed.with_default_tag()
        auth = parse_auth(auth_json)
        platform = dist.parse_platform(platform)     # None: the host's
        endpoints = self.settings.endpoints(parsed.domain)
        for i, base in enumerate(endpoints):
            client = RegistryClient(base, auth, [scope(parsed.path, "pull")], self.settings,
                                    self.session_factory() if self.session_factory else None)
            try:
                if all_tags:
                    return self._pull_all(client, parsed, platform, emit)
                return _Pull(self, client, parsed, platform, emit).run()
            except errors.DockyardError as exc:
                if i + 1 == len(endpoints):
                    raise
                log.warning("pull of %s from mirror %s failed, trying the next endpoint: %s",
                            parsed, base, exc)
            finally:
                client.close()


    def _pull_all(self, client, name, platform, emit):
        """Every tag the registry lists, in its order (as dockerd's pullV2Repository): each
        tag's section ends with its Digest line; one Status line for the repository at the end.
        The first failing tag ends the pull."""
        client.ping()
        try:
            tags = client.list_tags(name.path)
        except RegistryError as exc:
            raise not_found(exc, name) from None
        changed = False
        for tag in tags:
            try:
                tag_ref = reference.parse("%s:%s" % (name.name, tag))
            except errors.InvalidArgument:
                raise errors.Unavailable("registry lists an invalid tag %r for %s"
                                         % (tag, name.familiar_name)) from None
            pull = _Pull(self, client, tag_ref, platform, emit, final_status=False)
            pull.run(ping=False)
            changed = changed or pull.changed
        emit(status="Status: " + _verdict(changed) + name.familiar_name)
        return "", ""


def _verdict(changed):
    return "Downloaded newer image for " if changed else "Image is up to date for "


class _Pull:
    def __init__(self, puller, client, ref, platform, emit, final_status=True):
        self.store = puller.store
        self.workers = puller.workers
        self.client = client
        self.ref = ref
        self.platform = platform
        self.emit = emit
        self.final_status = final_status     # False within a pull -a: one Status line at the end
        self.changed = False                 # the tag (or digest) now names another image
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
        """(top digest, image manifest bytes, doc, media type, its digest). dockerd says
        "Pulling from" once the tag's manifest is fetched: a missing tag is still an HTTP
        error, an index without the platform an error in the stream."""
        target = self.ref.digest or self.ref.tag
        body, doc, media, digest = self._manifest(target, self.ref.digest)
        # a digest pull's line is named by the whole reference, as dockerd's
        self.emit(id=self.ref.familiar() if self.ref.digest else target,
                  status="Pulling from " + self.ref.path)
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
    def run(self, ping=True):
        if ping:     # a pull -a pings once for all its tags
            self.client.ping()
        top, body, doc, media, manifest_digest = self.resolve()
        config_desc, layers = dist.manifest_layers(doc)
        config_digest = config_desc["digest"]
        try:
            with self.store.lease([config_digest, manifest_digest] + [l["digest"] for l in layers]) as lease:
                config = self._config(config_digest)
                diff_ids = self._diff_ids(config, layers)
                for key in diff_ids + chain_ids(diff_ids):
                    lease.add(key)
                self._layers(layers, diff_ids, self.store._row(config_digest) is not None)
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
        except (_urllib3_error(), OSError) as exc:
            raise errors.Unavailable("error pulling %s: %s" % (digest, exc)) from None

    # -- layers ------------------------------------------------------------------------------------
    def _has_blob(self, digest, diff_id):
        """The blob is stored and known to hold the layer diff_id."""
        if not self.store.content.exists(digest):
            return False
        row = self.store.dist.layer_blob(digest)
        return digest == diff_id or (row is not None and row["diff_id"] == diff_id)

    def _layers(self, layers, diff_ids, image_known=False):
        """image_known: dockerd downloads nothing for an image it has, and writes no line per
        layer; we still make sure every snapshot is there (from the stored layers)."""
        store = self.store
        chains = chain_ids(diff_ids)
        plan, seen = [], set()    # per layer: (fetch the blob?, unpack it?, repeats a blob?)
        for desc, diff_id, chain in zip(layers, diff_ids, chains):
            digest = desc["digest"]
            if image_known and store.has_layer(diff_id):
                fetch = fill = False      # _commit unpacks a missing snapshot from the store
            else:
                fetch = not self._has_blob(digest, diff_id)
                fill = not store.snapshots.exists(chain)
            plan.append((fetch, fill, digest in seen))
            if not fetch and not fill:
                if not image_known:
                    self.emit(id=_short(digest), status="Already exists")
            elif digest not in seen:
                self.emit(id=_short(digest), status="Pulling fs layer")
            seen.add(digest)
        jobs = {}
        with futures.ThreadPoolExecutor(self.workers, thread_name_prefix="pull") as pool:
            try:
                for i, (desc, diff_id, (fetch, fill, repeat)) in enumerate(zip(layers, diff_ids, plan)):
                    if (fetch or fill) and not repeat:
                        if fetch and len(jobs) >= self.workers:
                            self.emit(id=_short(desc["digest"]), status="Waiting")
                        jobs[i] = pool.submit(self._layer, desc, diff_id, fetch, fill)
                parent = ""
                for i, (desc, diff_id, chain) in enumerate(zip(layers, diff_ids, chains)):
                    fetch, fill, repeat = plan[i]
                    if i in jobs:
                        tmp, size, tar_size = jobs.pop(i).result()
                    elif repeat and (fetch or fill):
                        # the blob of an earlier layer, stored by now: unpack it from there
                        fill = not store.snapshots.exists(chain)
                        tmp, size, tar_size = self._layer(desc, diff_id, False, fill)
                    else:
                        tmp = size = tar_size = None
                    self._commit(desc, diff_id, chain, parent, tmp, size, tar_size)
                    if fetch or fill:
                        self.emit(id=_short(desc["digest"]), status="Pull complete")
                    parent = chain
            except BaseException:
                for job in jobs.values():
                    job.cancel()
                for job in jobs.values():    # directories unpacked for nothing
                    if not job.cancelled() and job.exception() is None and job.result()[0]:
                        store.snapshots.discard_layer_dir(job.result()[0])
                raise

    def _commit(self, desc, diff_id, chain, parent, tmp, size, tar_size):
        """Record a verified layer blob and make its snapshot the chain's (in chain order)."""
        store, digest = self.store, desc["digest"]
        try:
            if tar_size is not None:
                store.dist.add_layer_blob(digest, diff_id, desc.get("mediaType", ""),
                                          store.content.size(digest))
                if digest != diff_id:
                    store.set_layer_size(diff_id, tar_size)
        except BaseException:
            if tmp is not None:
                store.snapshots.discard_layer_dir(tmp)
            raise
        if tmp is not None:
            store.snapshots.commit_layer_dir(tmp, chain, parent, size)
        elif not store.snapshots.exists(chain):
            def fill(fs):
                with store.open_layer(diff_id) as (f, _):
                    return unpack.unpack(f, fs)
            store.snapshots.ensure_committed(chain, parent, fill)
        store.dist.add_blob_repo(digest, self.repo)

    def _layer(self, desc, diff_id, fetch, fill):
        """Download (fetch) or read the stored blob, check it against diff_id, and unpack it
        into a new snapshot directory (fill). Returns (directory or None, layer size, tar size)."""
        store, digest, short = self.store, desc["digest"], _short(desc["digest"])
        tmp = store.snapshots.new_layer_dir() if fill else None
        fs = tmp + "/fs" if tmp else None
        state, bad = {}, False
        try:
            try:
                if fetch:
                    size, got, tar_size = self._fetch_and_unpack(desc, fs, state)
                else:
                    with store.content.open(digest) as f:
                        size, got, tar_size = unpack.unpack_chunks(iter(lambda: f.read(CHUNK), b""), fs)
            except errors.InvalidArgument as exc:
                bad = True
                raise errors.Unavailable("layer %s is not a valid compressed tar: %s"
                                         % (digest, exc)) from None
            if got != diff_id:
                # The blob matched its digest but does not hold the layer the config names.
                bad = True
                raise errors.Unavailable("layer %s does not match diff id %s: its tar is %s"
                                         % (digest, diff_id, got))
            if fs:
                size = snapshots.layer_size(fs)     # dockerd's measure (symlinks count)
        except BaseException:
            if tmp:
                store.snapshots.discard_layer_dir(tmp)
            if bad:     # a verified blob that is no layer: never to be used again
                store.content.delete(digest)
            raise
        self.emit(id=short, status="Extracting", progress=bar(tar_size, tar_size),
                  current=tar_size, total=tar_size)
        return tmp, size, tar_size

    def _fetch_and_unpack(self, desc, fs, state):
        pipe = _Pipe(PIPE_DEPTH)
        fetcher = threading.Thread(target=self._download, args=(desc, pipe, state),
                                   name="pull-fetch", daemon=True)
        fetcher.start()
        try:
            try:
                return unpack.unpack_chunks(pipe, fs)
            finally:
                pipe.close()       # on failure the download runs to its end without us
                fetcher.join()
        except BaseException:
            if state.get("error") is not None:    # a bad download explains a bad tar
                raise state["error"] from None
            raise

    def _download(self, desc, pipe, state):
        """Thread: stream the blob into the content store (verified) and into pipe."""
        digest, size, short = desc["digest"], int(desc.get("size") or 0), _short(desc["digest"])
        error = None
        try:
            resp = self.client_blob(digest)
            try:
                total = size or int(resp.headers.get("Content-Length") or 0)
                last = 0
                with self.store.content.writer(digest) as w:
                    for chunk in resp.raw.stream(CHUNK, decode_content=False):
                        w.write(chunk)
                        if size and w.size > size:
                            raise errors.Unavailable("filesystem layer verification failed for digest "
                                                     "%s: larger than its %d bytes" % (digest, size))
                        pipe.put(chunk)
                        if w.size - last >= PROGRESS_EVERY or w.size == total:
                            last = w.size
                            self.emit(id=short, status="Downloading", progress=bar(w.size, total),
                                      current=w.size, total=total)
                state["stored"] = True
            finally:
                resp.close()
        except errors.InvalidArgument:   # the store's digest check
            error = errors.Unavailable("filesystem layer verification failed for digest %s" % digest)
        except errors.DockyardError as exc:
            error = exc
        except (_urllib3_error(), OSError) as exc:
            error = errors.Unavailable("error pulling %s: %s" % (digest, exc))
        except BaseException as exc:
            error = exc
        else:
            self.emit(id=short, status="Verifying Checksum")
            self.emit(id=short, status="Download complete")
        state["error"] = error
        pipe.end(error)

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
            digest_ref = "%s@%s" % (self.ref.familiar_name, top)
            owner = store.db.one("SELECT image_id FROM repo_digests WHERE ref = ?", (digest_ref,))
            # dockerd's reference store never moves a digest reference: a tag pull leaves it
            # with the first image (an index pulled for another platform), a pull by digest fails
            overwrite = owner is not None and owner["image_id"] != image_id and not self.ref.tag
            if owner is None:
                store.set_repo_digest(digest_ref, image_id)
            if self.ref.tag:
                store._set_tag(self.ref.familiar(), image_id)
        self.emit(status="Digest: " + top)
        if overwrite:
            raise errors.Conflict("Cannot overwrite digest %s" % top)
        self.changed = before != image_id
        if self.final_status:
            self.emit(status="Status: " + _verdict(self.changed) + self.ref.familiar())
        log.info("pulled %s as image %s (%s)", self.ref.familiar(), image_id, top)
        return image_id


class _Pipe:
    """Chunks from a layer's download thread to its unpacking thread, a few in flight at most.
    Iterating yields them, then raises the download's error if it failed. After close() (the
    reader gave up) put() drops its chunks, so the download still finishes and is verified."""

    def __init__(self, depth):
        self._items = collections.deque()
        self._depth = depth
        self._cv = threading.Condition()
        self._ended = self._closed = False
        self._error = None

    def put(self, data):
        with self._cv:
            while len(self._items) >= self._depth and not self._closed:
                self._cv.wait()
            if not self._closed:
                self._items.append(data)
                self._cv.notify_all()

    def end(self, error=None):
        with self._cv:
            self._ended, self._error = True, error
            self._cv.notify_all()

    def close(self):
        with self._cv:
            self._closed = True
            self._items.clear()
            self._cv.notify_all()

    def __iter__(self):
        while True:
            with self._cv:
                while not self._items and not self._ended:
                    self._cv.wait()
                if self._items:
                    data = self._items.popleft()
                    self._cv.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield data
