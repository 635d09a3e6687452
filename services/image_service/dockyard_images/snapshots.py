"""Overlay snapshots under snapshots/<n>/: committed layers (keyed by chain id) and active ones.

A committed snapshot's fs/ holds one unpacked layer and is shared by every image whose chain
contains it. An active snapshot has fs/ (the overlay upperdir) and work/ (its workdir); its
lowerdirs are the committed chain from its parent down to the base layer.

A container's snapshot is prepared with an init layer (Docker's "<id>-init"): a committed
snapshot "<key>-init" holding the runtime's mount points (initlayer.py) between the image and
the writable layer. It belongs to that one active snapshot and is removed with it. Snapshots
prepared before init layers existed have the image's chain as their direct parent.
"""

import logging
import os
import shutil
import tempfile
import threading
import time

from dockyard_common import errors

from . import initlayer

log = logging.getLogger(__name__)

COMMITTED = "committed"
ACTIVE = "active"
INIT_SUFFIX = "-init"


def init_key(key):
    return key + INIT_SUFFIX


class Snapshotter:
    def __init__(self, root, db):
        self.root = root
        self.db = db
        os.makedirs(root, exist_ok=True)
        self._locks = {}
        self._locks_guard = threading.Lock()

    # -- paths --------------------------------------------------------------------------------
    def _dir(self, row):
        return os.path.join(self.root, str(row["id"]))

    def fs_path(self, key):
        return os.path.join(self._dir(self._get(key)), "fs")

    @property
    def empty_dir(self):
        """The lowerdir of a snapshot without parent: overlay needs at least one."""
        path = os.path.join(self.root, "empty", "fs")
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
        return path

    # -- lookups ------------------------------------------------------------------------------
    def _get(self, key):
        row = self.db.one("SELECT * FROM snapshots WHERE key = ?", (key,))
        if row is None:
            raise errors.NotFound("snapshot %s does not exist" % key)
        return row

    def exists(self, key):
        return self.db.one("SELECT 1 FROM snapshots WHERE key = ?", (key,)) is not None

    def info(self, key):
        row = self._get(key)
        return {"key": row["key"], "parent": row["parent"], "kind": row["kind"], "size": row["size"]}

    def list(self):
        return [{"key": r["key"], "parent": r["parent"], "kind": r["kind"]}
                for r in self.db.query("SELECT * FROM snapshots ORDER BY id")]

    def chain(self, key):
        """Rows from key down to the base layer (top first)."""
        rows = []
        while key:
            row = self._get(key)
            rows.append(row)
            key = row["parent"]
        return rows

    def has_init_layer(self, key):
        """Was the active snapshot key prepared over its own init layer?"""
        return self._get(key)["parent"] == init_key(key)

    def image_parent(self, key):
        """The committed chain key was prepared from, below its init layer if it has one."""
        row = self._get(key)
        if row["parent"] == init_key(key):
            return self._get(row["parent"])["parent"]
        return row["parent"]

    def pinned_chains(self):
        """Committed snapshots in use by active snapshots and by init layers (an init layer is
        committed just before its active snapshot is created: gc must not take it between)."""
        used = set()
        for row in self.db.query("SELECT key, parent FROM snapshots WHERE kind = ?", (ACTIVE,)):
            used.update(r["key"] for r in self.chain(row["parent"]))
        for row in self.db.query("SELECT key FROM snapshots WHERE kind = ? AND key LIKE ?",
                                 (COMMITTED, "%" + INIT_SUFFIX)):
            used.update(r["key"] for r in self.chain(row["key"]))
        return used

    def committed_size(self, chain_id):
        row = self.db.one("SELECT size FROM snapshots WHERE key = ? AND kind = ?", (chain_id, COMMITTED))
        return row["size"] if row else 0

    # -- committed layers ---------------------------------------------------------------------
    def _lock_for(self, key):
        with self._locks_guard:
            return self._locks.setdefault(key, threading.RLock())

    def ensure_committed(self, chain_id, parent, fill):
        """Make the committed snapshot chain_id exist; fill(fs_dir) -> size unpacks the layer
        into a fresh directory, called only when the snapshot is missing."""
        with self._lock_for(chain_id):
            if self.exists(chain_id):
                return False
            if parent and not self.exists(parent):
                raise errors.FailedPrecondition("parent snapshot %s does not exist" % parent)
            tmp = self.new_layer_dir()
            try:
                fill(os.path.join(tmp, "fs"))
                size = layer_size(os.path.join(tmp, "fs"))
            except BaseException:
                self.discard_layer_dir(tmp)
                raise
            return self.commit_layer_dir(tmp, chain_id, parent, size)

    def new_layer_dir(self):
        """A fresh directory (with an empty fs/) to unpack a layer into before it is committed:
        independent layers unpack in parallel, then commit in chain order."""
        tmp = tempfile.mkdtemp(prefix="new-", dir=self.root)
        os.mkdir(os.path.join(tmp, "fs"), 0o755)
        return tmp

    def discard_layer_dir(self, tmp):
        shutil.rmtree(tmp, ignore_errors=True)

    def commit_layer_dir(self, tmp, chain_id, parent, size):
        """Turn a directory from new_layer_dir() into the committed snapshot chain_id (the
        directory is consumed either way). False when chain_id already existed."""
        try:
            with self._lock_for(chain_id):
                if self.exists(chain_id):
                    self.discard_layer_dir(tmp)
                    return False
                if parent and not self.exists(parent):
                    raise errors.FailedPrecondition("parent snapshot %s does not exist" % parent)
                with self.db.tx() as conn:
                    cur = conn.execute(
                        "INSERT INTO snapshots (key, parent, kind, size, created) VALUES (?,?,?,?,?)",
                        (chain_id, parent, COMMITTED, size, int(time.time())))
                    os.rename(tmp, os.path.join(self.root, str(cur.lastrowid)))
        except BaseException:
            self.discard_layer_dir(tmp)
            raise
        return True

    def remove_committed(self, chain_id):
        with self.db.tx() as conn:
            row = conn.execute("SELECT * FROM snapshots WHERE key = ?", (chain_id,)).fetchone()
            if row is None:
                return
            if conn.execute("SELECT 1 FROM snapshots WHERE parent = ?", (chain_id,)).fetchone():
                raise errors.FailedPrecondition("snapshot %s has children" % chain_id)
            conn.execute("DELETE FROM snapshots WHERE id = ?", (row["id"],))
        shutil.rmtree(self._dir(row), ignore_errors=True)

    # -- active snapshots ---------------------------------------------------------------------
    def prepare(self, key, parent="", init_layer=False):
        """An active snapshot over parent; with init_layer, over a new init layer on parent."""
        if not key:
            raise errors.InvalidArgument("snapshot key is required")
        if not init_layer:
            return self._prepare(key, parent)
        with self._lock_for(key):       # one prepare per key: a loser must not drop the init layer
            if self.exists(key):
                raise errors.Conflict("snapshot %s already exists" % key)
            ikey = self._make_init_layer(key, parent)
            try:
                return self._prepare(key, ikey)
            except BaseException:
                self.remove_committed(ikey)
                raise

    def _make_init_layer(self, key, parent):
        self._check_parent(parent)
        ikey = init_key(key)
        if self.exists(ikey):
            self.remove_committed(ikey)    # left by a crash before its active snapshot existed
        lowers = [os.path.join(self._dir(r), "fs") for r in self.chain(parent)]
        tmp = self.new_layer_dir()
        try:
            initlayer.populate(os.path.join(tmp, "fs"), lowers)
        except BaseException:
            self.discard_layer_dir(tmp)
            raise
        self.commit_layer_dir(tmp, ikey, parent, 0)
        return ikey

    def _check_parent(self, parent):
        if parent:
            prow = self.db.one("SELECT kind FROM snapshots WHERE key = ?", (parent,))
            if prow is None:
                raise errors.NotFound("parent snapshot %s does not exist" % parent)
            if prow["kind"] != COMMITTED:
                raise errors.InvalidArgument("parent snapshot %s is not committed" % parent)

    def _prepare(self, key, parent):
        self._check_parent(parent)
        with self.db.tx() as conn:
            if conn.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                raise errors.Conflict("snapshot %s already exists" % key)
            cur = conn.execute(
                "INSERT INTO snapshots (key, parent, kind, size, created) VALUES (?,?,?,?,?)",
                (key, parent, ACTIVE, 0, int(time.time())))
            path = os.path.join(self.root, str(cur.lastrowid))
            shutil.rmtree(path, ignore_errors=True)   # a leftover of a crashed removal
            os.makedirs(os.path.join(path, "fs"), mode=0o755)
            os.makedirs(os.path.join(path, "work"), mode=0o700)
        return self.mounts(key)

    def mounts(self, key):
        rows = self.chain(key)
        top = rows[0]
        if top["kind"] == ACTIVE:
            lowers = [os.path.join(self._dir(r), "fs") for r in rows[1:]] or [self.empty_dir]
            return [{
                "type": "overlay", "source": "overlay", "target": "",
                "options": ["lowerdir=" + ":".join(lowers),
                            "upperdir=" + os.path.join(self._dir(top), "fs"),
                            "workdir=" + os.path.join(self._dir(top), "work")],
            }]
        # A committed snapshot: a read-only view of its chain.
        lowers = [os.path.join(self._dir(r), "fs") for r in rows]
        if len(lowers) == 1:
            return [{"type": "bind", "source": lowers[0], "target": "", "options": ["ro", "rbind"]}]
        return [{"type": "overlay", "source": "overlay", "target": "",
                 "options": ["lowerdir=" + ":".join(lowers)]}]

    def remove(self, key):
        row = self._get(key)
        if row["kind"] == COMMITTED:
            if self.db.one("SELECT 1 FROM images WHERE chain_id = ?", (key,)):
                raise errors.FailedPrecondition("snapshot %s is used by an image" % key)
            self.remove_committed(key)
            return
        with self.db.tx() as conn:
            conn.execute("DELETE FROM snapshots WHERE id = ?", (row["id"],))
        _rmtree_hard(self._dir(row))
        if row["parent"] == init_key(key):
            self.remove_committed(row["parent"])

    def usage(self, key):
        return disk_usage(os.path.join(self._dir(self._get(key)), "fs"))

    # -- startup ------------------------------------------------------------------------------
    def reconcile(self):
        """Drop half-made layer dirs and rows whose directory vanished (crash leftovers)."""
        known = set()
        for row in self.db.query("SELECT * FROM snapshots"):
            known.add(str(row["id"]))
            if not os.path.isdir(os.path.join(self._dir(row), "fs")):
                log.warning("snapshot %s lost its directory; dropping it", row["key"])
                with self.db.tx() as conn:
                    conn.execute("DELETE FROM snapshots WHERE id = ?", (row["id"],))
        for name in os.listdir(self.root):
            if name.startswith("new-") or (name.isdigit() and name not in known):
                _rmtree_hard(os.path.join(self.root, name))
        for row in self.db.query("SELECT key FROM snapshots WHERE kind = ? AND key LIKE ?",
                                 (COMMITTED, "%" + INIT_SUFFIX)):
            if not self.db.one("SELECT 1 FROM snapshots WHERE parent = ?", (row["key"],)):
                log.warning("init layer %s has no container layer; dropping it", row["key"])
                self.remove_committed(row["key"])


def _rmtree_hard(path):
    """rmtree that also copes with overlay's work/work dir (mode 000)."""
    def onerror(func, p, exc_info):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
        except OSError:
            pass
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=onerror)


def layer_size(fs):
    """A layer's size as dockerd's overlay2 DiffSize counts it: every non-directory, symlinks
    included (their target length), hard links once."""
    return disk_usage(fs)[0]


def disk_usage(path):
    """(bytes, inodes) below path; bytes are the apparent sizes of non-directories, hard-linked
    inodes counted once (Docker's SizeRw)."""
    seen = set()
    size = inodes = 0
    for dirpath, dirnames, filenames in os.walk(path):
        inodes += 1
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            inodes += 1
            size += st.st_size
    return size, inodes
