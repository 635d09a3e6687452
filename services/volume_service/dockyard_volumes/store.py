"""The volume store: local volumes, their data directories and the containers referencing them.

Every operation runs under one lock and inside one SQLite transaction, so Acquire, Release, Remove
and Prune are atomic with respect to each other: a volume cannot be removed between a container's
Acquire and its use (moby's VolumeStore does the same with per-name locks and in-memory refs).
Errors use Docker's wording ("get x: no such volume", "remove x: volume is in use - [id]").
"""

import logging
import os
import shutil
import threading
from dataclasses import dataclass

from dockyard_common import errors, ids

from . import filters, names, options
from .db import VolumeDB, VolumeRow
from .mounts import HostMounter

log = logging.getLogger(__name__)

DRIVER = "local"
DATA_DIR = "_data"


@dataclass
class Volume:
    """A volume as the API shows it."""
    name: str
    driver: str
    mountpoint: str
    labels: dict
    options: dict
    created_at: str
    anonymous: bool
    users: list
    scope: str = "local"

    @property
    def ref_count(self):
        return len(self.users)


class VolumeStore:
    def __init__(self, root, mounter=None):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, mode=0o701, exist_ok=True)
        self.mounter = mounter or HostMounter()
        self.db = VolumeDB(os.path.join(self.root, "volume.db"))
        self._lock = threading.Lock()

    def close(self):
        self.db.close()

    # paths ----------------------------------------------------------------------
    def _volume_dir(self, name):
        path = os.path.join(self.root, name)
        # names are validated, but never touch anything outside our root
        if os.path.dirname(path) != self.root:
            raise errors.InvalidArgument("invalid volume name %r" % name)
        return path

    def mountpoint(self, name):
        return os.path.join(self._volume_dir(name), DATA_DIR)

    def usage(self, name):
        """Bytes the volume's data uses (`docker system df`)."""
        return _tree_size(self.mountpoint(name))

    def _volume(self, row):
        return Volume(name=row.name, driver=row.driver, mountpoint=self.mountpoint(row.name),
                      labels=dict(row.labels), options=dict(row.options), created_at=row.created_at,
                      anonymous=row.anonymous, users=list(row.users))

    # create / get / list -----------------------------------------------------------
    def create(self, name="", driver="", labels=None, driver_opts=None, anonymous=False):
        with self._lock:
            return self._volume(self._create(name, driver, labels, driver_opts, anonymous))

    def _create(self, name, driver, labels, driver_opts, anonymous):
        _check_driver(driver)
        name = name or names.generate()
        existing = self.db.get(name)
        if existing is not None:
            # Docker returns the existing volume unchanged (labels and options are not merged).
            return existing
        names.validate(name)
        driver_opts = dict(driver_opts or {})
        options.validate(name, driver_opts)
        data = self.mountpoint(name)
        os.makedirs(os.path.dirname(data), mode=0o755, exist_ok=True)
        os.makedirs(data, mode=0o755, exist_ok=True)
        row = VolumeRow(name=name, driver=DRIVER, labels=dict(labels or {}), options=driver_opts,
                        created_at=ids.now_rfc3339(), anonymous=bool(anonymous))
        with self.db.transaction():
            self.db.insert(row)
        log.info("volume created", extra={"volume": name})
        return row

    def get(self, name):
        with self._lock:
            return self._volume(self._get(name))

    def _get(self, name):
        row = self.db.get(name) if name else None
        if row is None:
            raise errors.NotFound("get %s: no such volume" % name)
        return row

    def list(self, label_filters=None, dangling_only=False):
        match = filters.LabelFilter(label_filters)
        with self._lock:
            rows = self.db.all()
        return [self._volume(r) for r in rows
                if match(r.labels) and not (dangling_only and r.users)]

    # remove / prune ----------------------------------------------------------------------
    def remove(self, name, force=False):
        """Docker's semantics: force only ignores a missing volume and purges the record when the
        data cannot be removed; a volume in use is always refused."""
        with self._lock:
            row = self.db.get(name) if name else None
            if row is None:
                if force:
                    return
                raise errors.NotFound("get %s: no such volume" % name)
            if row.users:
                raise errors.FailedPrecondition("remove %s: volume is in use - [%s]"
                                                % (name, ", ".join(row.users)))
            try:
                self._destroy(name)
            except errors.DockyardError as exc:
                if force:
                    with self.db.transaction():
                        self.db.delete(name)
                raise errors.Internal("remove %s: %s" % (name, exc.message)) from None
            with self.db.transaction():
                self.db.delete(name)
        log.info("volume removed", extra={"volume": name})

    def prune(self, label_filters=None, all=False):
        """Remove unused volumes (anonymous ones only unless `all`). Returns (names, bytes)."""
        match = filters.LabelFilter(label_filters)
        removed, reclaimed = [], 0
        with self._lock:
            for row in self.db.all():
                if row.users or not (all or row.anonymous) or not match(row.labels):
                    continue
                size = _tree_size(self.mountpoint(row.name))
                try:
                    self._destroy(row.name)
                except errors.DockyardError as exc:
                    log.warning("prune: cannot remove volume %s: %s", row.name, exc)
                    continue
                with self.db.transaction():
                    self.db.delete(row.name)
                removed.append(row.name)
                reclaimed += size
        if removed:
            log.info("volumes pruned", extra={"count": len(removed), "reclaimed": reclaimed})
        return removed, reclaimed

    def _destroy(self, name):
        """Unmount and delete the volume's directory; never follow a mount out of it."""
        vdir = self._volume_dir(name)
        data = os.path.join(vdir, DATA_DIR)
        if self.mounter.is_mounted(data):
            self.mounter.unmount(data)
        if self.mounter.has_mounts_below(vdir):
            raise errors.Internal("%s still has mounts below it" % vdir)
        if os.path.lexists(vdir):
            try:
                shutil.rmtree(vdir)
            except OSError as exc:
                raise errors.Internal(str(exc)) from None

    # references ------------------------------------------------------------------------------
    def acquire(self, name, container_id, create=False, anonymous=False, labels=None,
                driver="", driver_opts=None):
        """Record that `container_id` uses the volume (idempotent) and return it, mounted if it has
        mount options. With `create`, a missing volume is created first (anonymous when no name)."""
        if not container_id:
            raise errors.InvalidArgument("acquire: container id is required")
        _check_driver(driver)
        with self._lock:
            row = self.db.get(name) if name else None
            if row is None:
                if not create:
                    raise errors.NotFound("get %s: no such volume" % name)
                row = self._create(name, driver, labels, driver_opts, anonymous or not name)
            spec = options.mount_spec(row.options)
            with self.db.transaction():
                self.db.add_ref(row.name, container_id)
                # mount inside the transaction: a failed mount leaves no reference behind
                if spec is not None:
                    data = self.mountpoint(row.name)
                    if not self.mounter.is_mounted(data):
                        os.makedirs(data, mode=0o755, exist_ok=True)
                        self.mounter.mount(spec, data)
                        log.info("volume mounted", extra={"volume": row.name})
            return self._volume(self.db.get(row.name))

    def release(self, name, container_id):
        """Drop `container_id`'s reference (idempotent); the last one unmounts a mount volume."""
        with self._lock:
            row = self.db.get(name) if name else None
            if row is None:
                return
            with self.db.transaction():
                self.db.remove_ref(name, container_id)
            if options.mount_spec(row.options) is not None and not self.db.users(name):
                self._unmount_quietly(name)

    def _unmount_quietly(self, name):
        data = self.mountpoint(name)
        try:
            if self.mounter.is_mounted(data):
                self.mounter.unmount(data)
                log.info("volume unmounted", extra={"volume": name})
        except errors.DockyardError as exc:
            # the reference is gone either way; reconcile() retries on the next start
            log.warning("cannot unmount volume %s: %s", name, exc)

    # restart -----------------------------------------------------------------------------------
    def reconcile(self):
        """Bring mounts in line with the references in the db after a restart or crash."""
        with self._lock:
            rows = self.db.all()
            for row in rows:
                data = self.mountpoint(row.name)
                spec = options.mount_spec(row.options)
                mounted = self.mounter.is_mounted(data)
                if not mounted:
                    os.makedirs(data, mode=0o755, exist_ok=True)
                if spec is None:
                    continue
                if row.users and not mounted:
                    try:
                        self.mounter.mount(spec, data)
                        log.info("reconcile: remounted volume", extra={"volume": row.name})
                    except errors.DockyardError as exc:
                        log.warning("reconcile: cannot mount volume %s: %s", row.name, exc)
                elif not row.users and mounted:
                    self._unmount_quietly(row.name)
            known = {r.name for r in rows}
            for entry in os.listdir(self.root):
                if entry.startswith("volume.db") or entry in known:
                    continue
                if os.path.isdir(os.path.join(self.root, entry)):
                    log.warning("reconcile: directory %s has no volume record; left alone", entry)


def _check_driver(driver):
    if driver not in ("", DRIVER):
        raise errors.NotFound('error looking up volume plugin %s: plugin "%s" not found'
                              % (driver, driver))


def _tree_size(path):
    """Bytes used below path (moby's directory.Size): hard links once, no other filesystems."""
    try:
        root_dev = os.lstat(path).st_dev
    except OSError:
        return 0
    seen, total = set(), 0
    for dirpath, dirnames, filenames in os.walk(path):
        for d in list(dirnames):
            try:
                if os.lstat(os.path.join(dirpath, d)).st_dev != root_dev:
                    dirnames.remove(d)
            except OSError:
                dirnames.remove(d)
        for f in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
