"""The image store: records, tags, and the operations Docker's image API needs.

An image id is the sha256 of its config blob. Each layer is kept as a tar blob: uncompressed and
named by its diff id (load, import, commit), or, for a pulled layer, only as the compressed blob
the registry sent (layer_blobs maps it to its diff id; gunzip gives back the very tar, so `save`
stays byte-identical). Each layer is unpacked once into a committed snapshot keyed by its chain id. Load/Import/Commit/Delete take `self.lock`, so garbage
collection never sees a layer that an import has stored but not yet recorded.
"""

import collections
import contextlib
import io
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from dockyard_common import errors, ids
from dockyard_common.layers import chain_ids

from dockyard_common import reference

from . import archive, diff, fsops, unpack
from .content import ContentStore
from .db import Database
from .distribution import DistributionMetadata
from .snapshots import Snapshotter

log = logging.getLogger(__name__)

# Uncompressed tar sizes of layers held only compressed (docker save writes a layer.tar header
# before its bytes). A missing row is made good by reading the layer once.
LAYER_SCHEMA = """
CREATE TABLE IF NOT EXISTS layer_sizes (
    diff_id TEXT PRIMARY KEY,
    size    INTEGER NOT NULL
);
"""

DEFAULT_OS = "linux"
DEFAULT_ARCH = "amd64"


@dataclass
class Image:
    id: str
    config: bytes
    diff_ids: list
    chain_id: str
    size: int
    created: str
    parent: str = ""
    repo_tags: list = field(default_factory=list)
    repo_digests: list = field(default_factory=list)

    @property
    def config_json(self):
        return json.loads(self.config)


def _short(image_id):
    return ids.short(image_id)


class ImageStore:
    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.db = Database(os.path.join(root, "image.db"))
        self.content = ContentStore(os.path.join(root, "content"))
        self.snapshots = Snapshotter(os.path.join(root, "snapshots"), self.db)
        self.dist = DistributionMetadata(self.db)
        with self.db.write_lock:
            self.db.conn().executescript(LAYER_SCHEMA)
        self.lock = threading.RLock()
        self._leases = collections.Counter()   # blobs/chain ids a running pull still needs

    @contextlib.contextmanager
    def lease(self, keys=()):
        """Keep blobs and committed snapshots (by digest / chain id) out of gc while a pull that
        stored them without holding self.lock has not recorded its image yet. Yields a lease
        whose add(key) protects more keys until the block ends."""
        held = set(keys)
        lease = _Lease(self, held)
        with self.lock:
            self._leases.update(held)
        try:
            yield lease
        finally:
            with self.lock:
                self._leases.subtract(lease.keys)
                self._leases += collections.Counter()   # drop zero counts

    def restore(self):
        self.content.clean_ingest()
        self.snapshots.reconcile()

    # ------------------------------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------------------------------
    def _image(self, row):
        tags = [r["ref"] for r in self.db.query(
            "SELECT ref FROM tags WHERE image_id = ? ORDER BY rowid", (row["id"],))]
        digests = [r["ref"] for r in self.db.query(
            "SELECT ref FROM repo_digests WHERE image_id = ? ORDER BY rowid", (row["id"],))]
        return Image(row["id"], self.content.read(row["config_digest"]), json.loads(row["diff_ids"]),
                     row["chain_id"], row["size"], row["created"], row["parent"], tags, digests)

    def _row(self, image_id):
        return self.db.one("SELECT * FROM images WHERE id = ?", (image_id,))

    def resolve_id(self, ref):
        """The image id ref names (tag, digest ref, full/bare/short id), else NotFound."""
        if not ref:
            raise errors.InvalidArgument("image reference is required")
        not_found = errors.NotFound("No such image: %s" % reference.display(ref))
        if ref.startswith("sha256:") or reference.HEX64_RE.match(ref):
            image_id = ref if ref.startswith("sha256:") else "sha256:" + ref
            if reference.HEX64_RE.match(image_id[7:]) and self._row(image_id):
                return image_id
            hexpart = image_id[7:]
            if ref.startswith("sha256:") and reference.SHORT_ID_RE.match(hexpart):
                return self._by_prefix(hexpart, not_found)
            raise not_found
        parsed = reference.parse(ref)    # InvalidArgument for a malformed reference
        if parsed.digest:
            row = self.db.one("SELECT image_id FROM repo_digests WHERE ref = ?", (parsed.familiar(),))
            if row:
                return row["image_id"]
            if parsed.digest.startswith("sha256:") and self._row(parsed.digest):
                # local images have no repo digest: accept the image id itself after "@"
                return parsed.digest
            raise not_found
        row = self.db.one("SELECT image_id FROM tags WHERE ref = ?",
                          (parsed.with_default_tag().familiar(),))
        if row:
            return row["image_id"]
        if reference.SHORT_ID_RE.match(ref):
            return self._by_prefix(ref, not_found)
        raise not_found

    def _by_prefix(self, prefix, not_found):
        rows = self.db.query("SELECT id FROM images WHERE id LIKE ?", ("sha256:" + prefix + "%",))
        if len(rows) != 1:
            raise not_found
        return rows[0]["id"]

    def get(self, ref):
        image_id = self.resolve_id(ref)
        row = self._row(image_id)
        if row is None:
            raise errors.NotFound("No such image: %s" % reference.display(ref))
        return self._image(row)

    def list(self, all=False):
        rows = self.db.query("SELECT * FROM images ORDER BY created DESC, added DESC")
        images = [self._image(r) for r in rows]
        if all:
            return images
        parents = {r["parent"] for r in rows if r["parent"]}
        # Like `docker images`: untagged images that other images build on are intermediates.
        return [i for i in images if i.repo_tags or i.repo_digests or i.id not in parents]

    def children(self, image_id):
        return [r["id"] for r in self.db.query("SELECT id FROM images WHERE parent = ?", (image_id,))]

    def history(self, ref):
        img = self.get(ref)
        cfg = img.config_json
        hist = cfg.get("history") or [{"created": cfg.get("created", ""), "created_by": ""}
                                      for _ in img.diff_ids]
        chains = chain_ids(img.diff_ids)
        entries, layer = [], 0
        for h in hist:
            size = 0
            empty = bool(h.get("empty_layer"))
            if not empty and layer < len(chains):
                size = self.snapshots.committed_size(chains[layer])
                layer += 1
            entries.insert(0, {"id": "<missing>", "created": ids.rfc3339_to_ns(h.get("created", "")) // 10**9,
                               "created_by": h.get("created_by", ""), "tags": [], "size": size,
                               "comment": h.get("comment", ""), "empty_layer": empty})
        # Walk the parent chain (local builds/commits) to name the entries that are images.
        cur = img
        for entry in entries:
            entry["id"] = cur.id
            entry["tags"] = list(cur.repo_tags)
            if not cur.parent:
                break
            row = self._row(cur.parent)
            if row is None:
                break
            cur = self._image(row)
        return entries

    # ------------------------------------------------------------------------------------------
    # tags
    # ------------------------------------------------------------------------------------------
    def tag(self, ref, target):
        image_id = self.resolve_id(ref)
        parsed = reference.parse(target)
        if parsed.digest:
            raise errors.InvalidArgument("refusing to create a tag with a digest reference")
        self._set_tag(parsed.with_default_tag().familiar(), image_id)
        return self.get(image_id)

    def _set_tag(self, tag, image_id):
        with self.db.tx() as conn:
            conn.execute("DELETE FROM tags WHERE ref = ?", (tag,))
            conn.execute("INSERT INTO tags (ref, image_id) VALUES (?, ?)", (tag, image_id))

    def _untag(self, ref):
        with self.db.tx() as conn:
            conn.execute("DELETE FROM tags WHERE ref = ?", (ref,))
            conn.execute("DELETE FROM repo_digests WHERE ref = ?", (ref,))

    def set_repo_digest(self, ref, image_id):
        """Record "repo@sha256:..." (familiar form) as naming image_id."""
        with self.db.tx() as conn:
            conn.execute("DELETE FROM repo_digests WHERE ref = ?", (ref,))
            conn.execute("INSERT INTO repo_digests (ref, image_id) VALUES (?, ?)", (ref, image_id))

    def _untag_orphan_digests(self, repo, image_id, items):
        """After removing a tag: when the image keeps no tag in that repository, its digest
        references there go too (moby image_delete.go)."""
        tags = self.db.query("SELECT ref FROM tags WHERE image_id = ?", (image_id,))
        if any(r["ref"].rpartition(":")[0] == repo for r in tags):
            return
        for row in self.db.query("SELECT ref FROM repo_digests WHERE image_id = ? ORDER BY rowid",
                                 (image_id,)):
            if row["ref"].rpartition("@")[0] == repo:
                self._untag(row["ref"])
                items.append({"untagged": row["ref"]})

    def _refs(self, image_id):
        return [r["ref"] for r in self.db.query(
            "SELECT ref FROM tags WHERE image_id = ? UNION ALL "
            "SELECT ref FROM repo_digests WHERE image_id = ?", (image_id, image_id))]

    # ------------------------------------------------------------------------------------------
    # delete (moby daemon/images/image_delete.go semantics; the caller checks containers)
    # ------------------------------------------------------------------------------------------
    def delete(self, ref, force=False, prune=True):
        with self.lock:
            image_id = self.resolve_id(ref)
            items = []
            refs = self._refs(image_id)
            quiet = False
            if not reference.is_id_prefix(image_id, ref):
                parsed = reference.parse(ref).with_default_tag()
                name = parsed.familiar()
                self._untag(name)
                items.append({"untagged": name})
                if not parsed.digest:
                    self._untag_orphan_digests(parsed.familiar_name, image_id, items)
                if self._refs(image_id):
                    return items
                quiet = True
            elif len(refs) == 1:
                self._check_conflict(image_id, soft=False)
                self._untag(refs[0])
                items.append({"untagged": refs[0]})
            self._delete_helper(image_id, items, force, prune, quiet)
            return items

    def _check_conflict(self, image_id, soft):
        if self.children(image_id):
            raise errors.Conflict("conflict: unable to delete %s (cannot be forced) - "
                                  "image has dependent child images" % _short(image_id))
        if soft and self._refs(image_id):
            raise errors.Conflict("conflict: unable to delete %s (must be forced) - "
                                  "image is referenced in multiple repositories" % _short(image_id))

    def _delete_helper(self, image_id, items, force, prune, quiet):
        try:
            self._check_conflict(image_id, soft=not force)
        except errors.Conflict:
            dangling = not self._refs(image_id) and not self.children(image_id)
            if quiet and not dangling:
                return
            raise
        row = self._row(image_id)
        for name in self._refs(image_id):
            self._untag(name)
            items.append({"untagged": name})
        with self.db.tx() as conn:
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        items.append({"deleted": image_id})
        log.info("deleted image %s", image_id)
        for chain, size in self.gc():
            items.append({"deleted": chain, "size": size})
        if prune and row["parent"] and self._row(row["parent"]):
            self._delete_helper(row["parent"], items, False, True, True)

    def gc(self):
        """Remove committed layers and blobs no image (or active snapshot) uses any more.
        Returns (chain id, diff size) of each removed layer, top first."""
        with self.lock:
            used_chains, used_blobs = set(), set()
            image_ids, all_diffs = set(), set()
            for row in self.db.query("SELECT id, config_digest, diff_ids FROM images"):
                image_ids.add(row["id"])
                used_blobs.add(row["config_digest"])
                diffs = json.loads(row["diff_ids"])
                all_diffs.update(diffs)
                used_blobs.update(diffs)
                used_chains.update(chain_ids(diffs))
            used_blobs |= self.dist.used_blobs(image_ids, all_diffs)
            used_blobs.update(self._leases)
            used_chains.update(self._leases)
            used_chains |= self.snapshots.pinned_chains()
            removed = []
            for row in self.db.query("SELECT key, size FROM snapshots WHERE kind = 'committed' "
                                     "ORDER BY id DESC"):
                if row["key"] not in used_chains:
                    self.snapshots.remove_committed(row["key"])
                    removed.append((row["key"], row["size"]))
            removed_blobs = set()
            for digest in self.content.list():
                if digest not in used_blobs:
                    self.content.delete(digest)
                    removed_blobs.add(digest)
            self.dist.forget(image_ids, removed_blobs)
            with self.db.tx() as conn:
                for row in conn.execute("SELECT diff_id FROM layer_sizes").fetchall():
                    if row["diff_id"] not in all_diffs and row["diff_id"] not in self._leases:
                        conn.execute("DELETE FROM layer_sizes WHERE diff_id = ?", (row["diff_id"],))
            return removed

    # ------------------------------------------------------------------------------------------
    # adding images
    # ------------------------------------------------------------------------------------------
    def _store_layer(self, stream, expected_diff_id=None):
        """Store an uncompressed layer tar as a blob named by its diff id."""
        return self.content.put_stream(stream, expected_diff_id)

    def _compressed_blob(self, diff_id):
        """The digest of a stored blob that decompresses to the layer diff_id (a pull verified
        it, or a push made it)."""
        for known in self.dist.blobs_for_diff(diff_id):
            if self.content.exists(known["digest"]):
                return known["digest"]
        return None

    def has_layer(self, diff_id):
        return self.content.exists(diff_id) or self._compressed_blob(diff_id) is not None

    def set_layer_size(self, diff_id, size):
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO layer_sizes (diff_id, size) VALUES (?, ?)",
                         (diff_id, size))

    @contextlib.contextmanager
    def open_layer(self, diff_id):
        """Yields (file with the layer's uncompressed tar, its size): the diff-id blob, else the
        kept compressed blob decompressed on the fly."""
        if self.content.exists(diff_id):
            with self.content.open(diff_id) as f:
                yield f, os.fstat(f.fileno()).st_size
            return
        digest = self._compressed_blob(diff_id)
        if digest is None:
            raise errors.NotFound("layer %s not found" % diff_id)
        row = self.db.one("SELECT size FROM layer_sizes WHERE diff_id = ?", (diff_id,))
        if row is None:
            with self.content.open(digest) as f:
                reader = unpack.LayerReader(iter(lambda: f.read(unpack.CHUNK), b""))
                reader.drain()
            self.set_layer_size(diff_id, reader.size)
            size = reader.size
        else:
            size = row["size"]
        with self.content.open(digest) as f:
            yield unpack.LayerReader(iter(lambda: f.read(unpack.CHUNK), b"")), size

    def _ensure_snapshot(self, diff_ids):
        """Unpack every layer of the chain that has no committed snapshot yet."""
        parent = ""
        for diff_id, chain in zip(diff_ids, chain_ids(diff_ids)):
            def fill(fs, diff_id=diff_id):
                with self.open_layer(diff_id) as (f, _):
                    return unpack.unpack(f, fs)
            self.snapshots.ensure_committed(chain, parent, fill)
            parent = chain

    def _add_image(self, config_bytes, parent="", expected_digest=""):
        """Record an image whose layers are already stored; returns its id."""
        try:
            cfg = json.loads(config_bytes)
            diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
        except (ValueError, AttributeError):
            raise errors.InvalidArgument("invalid image config") from None
        config_digest = self.content.put_bytes(config_bytes, expected_digest or None)
        for d in diff_ids:
            if not self.has_layer(d):
                raise errors.InvalidArgument("layer %s is missing" % d)
        self._ensure_snapshot(diff_ids)
        chains = chain_ids(diff_ids)
        size = sum(self.snapshots.committed_size(c) for c in chains)
        with self.db.tx() as conn:
            if not conn.execute("SELECT 1 FROM images WHERE id = ?", (config_digest,)).fetchone():
                conn.execute(
                    "INSERT INTO images (id, config_digest, diff_ids, chain_id, size, created, parent, added)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (config_digest, config_digest, json.dumps(diff_ids), chains[-1] if chains else "",
                     size, cfg.get("created") or ids.ZERO_TIME, parent, time.time_ns()))
            elif parent:
                conn.execute("UPDATE images SET parent = ? WHERE id = ? AND parent = ''",
                             (parent, config_digest))
        return config_digest

    def load(self, chunks):
        """docker load: chunks of a docker-archive or OCI-archive tarball."""
        spool = self.content.spool(chunks)
        with spool, self.lock:
            tar = archive.open_archive(spool)
            loaded = []
            try:
                for entry in archive.read_images(tar):
                    loaded.append(self._load_one(tar, entry))
            except BaseException:
                self.gc()
                raise
            return loaded

    def _load_one(self, tar, entry):
        try:
            cfg = json.loads(entry.config)
            diff_ids = list(cfg["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError):
            raise errors.InvalidArgument("invalid archive: bad image config") from None
        if len(diff_ids) != len(entry.layers):
            raise errors.InvalidArgument("invalid archive: %d layers for %d diff ids"
                                         % (len(entry.layers), len(diff_ids)))
        for name, diff_id in zip(entry.layers, diff_ids):
            if not self.has_layer(diff_id):
                with archive.open_layer(tar, name) as layer:
                    self._store_layer(layer, diff_id)
        image_id = self._add_image(entry.config, expected_digest=entry.config_digest)
        for tag in entry.repo_tags:
            self._set_tag(tag, image_id)
        log.info("loaded image %s %s", image_id, " ".join(entry.repo_tags))
        return {"id": image_id, "repo_tags": list(entry.repo_tags)}

    def import_(self, header, chunks):
        """docker import: a rootfs tar (maybe compressed) becomes a one-layer image."""
        tag = reference.normalize_tag(header.get("repo_tag")) if header.get("repo_tag") else ""
        container_cfg = {}
        if header.get("config_json"):
            try:
                container_cfg = json.loads(header["config_json"])
            except ValueError:
                raise errors.InvalidArgument("invalid config json") from None
        spool = self.content.spool(chunks)
        if not os.fstat(spool.fileno()).st_size:
            # dockerd imports an empty stream as an empty layer; our unpacker wants a tar
            spool.close()
            spool = io.BytesIO(b"\0" * 1024)
        with spool, self.lock:
            try:
                diff_id = self._store_layer(archive.decompressed(spool))
                now = ids.now_rfc3339()
                cfg = {"architecture": header.get("architecture") or DEFAULT_ARCH,
                       "config": container_cfg or {},
                       "created": now,
                       "history": [_drop_empty({"created": now, "created_by": header.get("created_by", ""),
                                                "comment": header.get("message", "")})],
                       "os": header.get("os") or DEFAULT_OS,
                       "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
                if header.get("message"):
                    cfg["comment"] = header["message"]
                try:
                    image_id = self._add_image(archive.dump_json(cfg))
                except errors.InvalidArgument as exc:
                    if "not a valid tar archive" not in exc.message:
                        raise
                    raise archive.tar_failure(exc.message) from None
            except BaseException:
                self.gc()
                raise
            if tag:
                self._set_tag(tag, image_id)
            log.info("imported image %s %s", image_id, tag)
            return self.get(image_id)

    def commit(self, snapshot_key, parent_image="", config_json=b"", repo_tag="", comment="",
               author="", created_by="", empty_layer=False, container_config_json=b""):
        """docker commit: the active snapshot's upperdir becomes a new layer over parent_image.
        With empty_layer, only the config and a history entry are added (no snapshot needed)."""
        tag = reference.normalize_tag(repo_tag) if repo_tag else ""
        try:
            container_cfg = json.loads(config_json) if config_json else {}
            source_cfg = json.loads(container_config_json) if container_config_json else None
        except ValueError:
            raise errors.InvalidArgument("invalid config json") from None
        with self.lock:
            parent = self.get(parent_image) if parent_image else None
            diff_ids = list(parent.diff_ids) if parent else []
            try:
                if not empty_layer:
                    diff_ids.append(self._commit_layer(snapshot_key, parent))
                pcfg = parent.config_json if parent else {}
                now = ids.now_rfc3339()
                entry = {"created": now, "author": author, "created_by": created_by,
                         "comment": comment, "empty_layer": empty_layer}
                cfg = {"architecture": pcfg.get("architecture", DEFAULT_ARCH),
                       "variant": pcfg.get("variant"),      # kept, as moby's NewChildImage
                       "config": container_cfg,
                       "created": now,
                       "history": list(pcfg.get("history") or []) + [_drop_empty(entry)],
                       "os": pcfg.get("os", DEFAULT_OS),
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}
                if not cfg["variant"]:
                    del cfg["variant"]
                if author:
                    cfg["author"] = author
                if comment:
                    cfg["comment"] = comment
                if reference.HEX64_RE.match(snapshot_key or ""):
                    cfg["container"] = snapshot_key
                if source_cfg:
                    cfg["container_config"] = source_cfg
                image_id = self._add_image(archive.dump_json(cfg), parent=parent.id if parent else "")
            except BaseException:
                self.gc()
                raise
            if tag:
                self._set_tag(tag, image_id)
            log.info("committed %s as image %s %s", snapshot_key or "(config only)", image_id, tag)
            return self.get(image_id)

    def _commit_layer(self, snapshot_key, parent):
        """Store the diff of an active snapshot prepared from parent; returns its diff id."""
        info = self.snapshots.info(snapshot_key)
        if info["kind"] != "active":
            raise errors.InvalidArgument("snapshot %s is not active" % snapshot_key)
        if (parent.chain_id if parent else "") != self.snapshots.image_parent(snapshot_key):
            raise errors.InvalidArgument("snapshot %s was not prepared from image %s"
                                         % (snapshot_key, parent.id if parent else "(none)"))
        upper = self.snapshots.fs_path(snapshot_key)
        skip = ()
        if not self.snapshots.has_init_layer(snapshot_key):
            # made before init layers: runc left its mount points in the upperdir
            lowers = [self.snapshots.fs_path(r["key"]) for r in self.snapshots.chain(info["parent"])]
            skip = fsops.legacy_mount_points(upper, lowers)
        with self.content.writer() as w:
            diff.write_layer(upper, w, skip=skip)
        return w.digest

    # ------------------------------------------------------------------------------------------
    # save
    # ------------------------------------------------------------------------------------------
    def save(self, refs):
        """docker save: yields chunks of a docker-archive holding the named images."""
        if not refs:
            raise errors.InvalidArgument("no images to save")
        selected = {}    # image id -> (Image, [tags])
        for ref in refs:
            img = self.get(ref)
            tags = selected.setdefault(img.id, (img, []))[1]
            for t in self._save_tags(ref, img):
                if t not in tags:
                    tags.append(t)
        return self._save_stream(list(selected.values()))

    def _save_tags(self, ref, img):
        if reference.is_id_prefix(img.id, ref) or ref.startswith("sha256:"):
            return []
        parsed = reference.parse(ref)
        if parsed.digest:
            return []
        if parsed.tag:
            return [parsed.familiar()]
        # A bare repository name saves every tag of that repository the image has.
        prefix = parsed.familiar_name + ":"
        return [t for t in img.repo_tags if t.startswith(prefix)]

    def _save_stream(self, selected):
        out = archive.TarStream()
        manifest, repositories, written = [], {}, set()
        for img, tags in selected:
            layers, parent_dir = [], ""
            for diff_id, chain in zip(img.diff_ids, chain_ids(img.diff_ids)):
                layer_dir = chain.split(":", 1)[1]
                if layer_dir not in written:
                    written.add(layer_dir)
                    yield from out.dir(layer_dir)
                    yield from out.add_bytes(layer_dir + "/VERSION", b"1.0")
                    meta = {"id": layer_dir, "created": img.created}
                    if parent_dir:
                        meta["parent"] = parent_dir
                    yield from out.add_bytes(layer_dir + "/json", archive.dump_json(meta))
                    with self.open_layer(diff_id) as (f, size):
                        yield from out.add_file(layer_dir + "/layer.tar", f, size)
                layers.append(layer_dir + "/layer.tar")
                parent_dir = layer_dir
            config_name = img.id.split(":", 1)[1] + ".json"
            if config_name not in written:
                written.add(config_name)
                yield from out.add_bytes(config_name, img.config)
            manifest.append({"Config": config_name, "RepoTags": tags or None, "Layers": layers})
            for t in tags:
                repo, _, tagname = t.rpartition(":")
                if parent_dir:
                    repositories.setdefault(repo, {})[tagname] = parent_dir
        # json.Encoder output, as dockerd writes both files: a trailing newline
        yield from out.add_bytes("manifest.json", archive.dump_json(manifest) + b"\n")
        if repositories:
            # a Go map: keys sorted, as dockerd writes it
            yield from out.add_bytes("repositories", json.dumps(
                repositories, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        yield from out.close()


class _Lease:
    def __init__(self, store, keys):
        self.store = store
        self.keys = keys

    def add(self, key):
        with self.store.lock:
            if key not in self.keys:
                self.keys.add(key)
                self.store._leases[key] += 1


def _drop_empty(d):
    return {k: v for k, v in d.items() if v not in ("", None, False)}
