"""Files of an active snapshot that no task has mounted (docker cp / export of a created or
stopped container) and its changes against its parent (docker diff).

For a file operation the snapshot's overlay is mounted privately, for the duration of the call,
on a fresh directory under the image-service's own data dir (mnt/), and unmounted in a finally.
Changes need no mount: they come from walking the upperdir against the lower layers.
"""

import contextlib
import errno
import logging
import os
import stat
import tempfile
import threading

from dockyard_common import containerfs, errors, mounts, rootfs_path
from dockyard_common.safetar import OPAQUE_XATTR

log = logging.getLogger(__name__)

KIND_MODIFIED, KIND_ADDED, KIND_DELETED = 0, 1, 2
# Mountpoints the runtime creates in the rootfs when the image lacks them. Docker keeps them in
# the container's init layer (initlayer.py), below the diff; a snapshot prepared before init
# layers existed has them in its upperdir, and diff and commit leave them out there.
INIT_PATHS = frozenset(("/dev", "/dev/pts", "/dev/shm", "/dev/console", "/proc", "/sys",
                        "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/etc/mtab",
                        "/.dockerenv"))

class Mounter:
    """Mounts a snapshot's Mount list (one overlay or bind) on a directory and takes it down."""

    def mount(self, snapshot_mounts, target):
        if len(snapshot_mounts) != 1:
            raise errors.FailedPrecondition("unexpected snapshot mounts: %d" % len(snapshot_mounts))
        m = snapshot_mounts[0]
        try:
            mounts.mount(m["source"] or m["type"], target, m["type"], m["options"])
        except OSError as exc:
            raise errors.Internal("mount snapshot on %s: %s" % (target, exc)) from None

    def bind(self, source, target, readonly):
        """A private (r)bind, as Docker's mountVolumes: nothing propagates back to the host."""
        try:
            mounts.mount(source, target, "", ["rbind", "ro" if readonly else "rw", "rprivate"])
        except OSError as exc:
            raise errors.Internal("mount %s on %s: %s" % (source, target, exc)) from None

    def unmount(self, target):
        """The snapshot and every bind on it, deepest first."""
        for path in mounts.mounts_below(target):
            mounts.unmount(path)


class SnapshotFS:
    def __init__(self, snapshotter, mnt_root, mounter=None):
        self.snapshots = snapshotter
        self.mnt_root = mnt_root
        self.mounter = mounter or Mounter()
        self._locks = {}
        self._guard = threading.Lock()

    def _lock(self, key):
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def cleanup(self):
        """Unmount and remove mount dirs a crash left behind (called at startup)."""
        os.makedirs(self.mnt_root, mode=0o700, exist_ok=True)
        for name in os.listdir(self.mnt_root):
            path = os.path.join(self.mnt_root, name)
            try:
                self.mounter.unmount(path)
                os.rmdir(path)
            except OSError as exc:
                log.warning("leftover snapshot mount %s: %s", path, exc)

    @contextlib.contextmanager
    def mounted(self, key, binds=()):
        """The snapshot's root filesystem, mounted for the duration of the with block, with the
        container's volumes, binds and network files (Mount messages) bound on it as Docker's
        archive API mounts them for a stopped container. One call at a time per snapshot: two
        overlays sharing an upper/workdir are undefined behaviour."""
        if not key:
            raise errors.InvalidArgument("snapshot key is required")
        snapshot_mounts = self.snapshots.mounts(key)     # NotFound for an unknown key
        os.makedirs(self.mnt_root, mode=0o700, exist_ok=True)
        with self._lock(key):
            target = tempfile.mkdtemp(prefix="m", dir=self.mnt_root)
            try:
                self.mounter.mount(snapshot_mounts, target)
                try:
                    for m in sorted_binds(binds):
                        self.mounter.bind(m.source, bind_target(target, m.target,
                                                                os.path.isdir(m.source)),
                                          "ro" in m.options)
                    yield target
                finally:
                    self.mounter.unmount(target)
            finally:
                try:
                    os.rmdir(target)
                except OSError as exc:
                    log.warning("cannot remove %s: %s", target, exc)

    # -- the archive API ------------------------------------------------------------------------
    def stat_path(self, key, path, binds=()):
        with self.mounted(key, binds) as root:
            return containerfs.stat_path(root, path)

    def archive_get(self, key, path, binds=()):
        """A generator: the first next() mounts and resolves (errors surface there), the mount
        stays until the stream is exhausted or closed."""
        with self.mounted(key, binds) as root:
            _, chunks = containerfs.archive_get(root, path)
            try:
                yield from chunks
            finally:
                chunks.close()

    def archive_put(self, key, path, fileobj, no_overwrite_dir_non_dir=False, binds=(),
                    readonly_rootfs=False, owner_user=None):
        """binds: the container's mounts (Docker's read-only checks apply to them); owner_user:
        a Docker User string every entry is chowned to, resolved in the container's passwd."""
        info = self.snapshots.info(key)
        if info["kind"] != "active":
            raise errors.FailedPrecondition("snapshot %s is read-only" % key)
        mount_points = containerfs.mount_points(binds)
        with self.mounted(key, binds) as root:
            owner = containerfs.lookup_owner(root, owner_user) if owner_user else None
            containerfs.archive_put(
                root, path, fileobj, no_overwrite_dir_non_dir,
                check=lambda p: containerfs.check_writable(p, mount_points, readonly_rootfs),
                owner=owner)

    # -- docker diff ----------------------------------------------------------------------------
    def changes(self, key):
        """[(path, kind)] of an active snapshot against its lower layers."""
        rows = self.snapshots.chain(key)
        if rows[0]["kind"] != "active":
            raise errors.InvalidArgument("snapshot %s is not active" % key)
        upper = self.snapshots.fs_path(key)
        lowers = [self.snapshots.fs_path(r["key"]) for r in rows[1:]]
        return upper_changes(upper, lowers,
                             hide_init_paths=not self.snapshots.has_init_layer(key))


def sorted_binds(binds):
    """The binds with a host source (not tmpfs), parents before the mounts nested in them (moby
    sortMounts); a bind whose source is gone is skipped (an endpoint's files after a stop)."""
    usable = [m for m in binds if m.source and m.type != "tmpfs" and os.path.exists(m.source)]
    return sorted(usable, key=lambda m: len([p for p in m.target.split("/") if p]))


def bind_target(root, dest, is_dir):
    """The host path of dest in the mounted root: its symlinks followed inside the root (moby
    GetResourcePath), missing components created (moby CreateIfNotExists), never a symlink."""
    root_fd = rootfs_path.open_root(root)
    try:
        rel = rootfs_path.resolve_lenient(root_fd, dest)
        parts = [p for p in rel.split("/") if p]
        if not parts:
            raise errors.InvalidArgument("cannot mount over the root filesystem")
        fd = os.dup(root_fd)
        try:
            for i, part in enumerate(parts):
                if i == len(parts) - 1 and not is_dir:
                    try:
                        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                         | os.O_CLOEXEC, 0o755, dir_fd=fd))
                    except FileExistsError:
                        if stat.S_ISLNK(os.lstat(part, dir_fd=fd).st_mode):
                            raise OSError(errno.ELOOP, "a symlink") from None
                    break
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                nfd = os.open(part, rootfs_path.DIR_FLAGS, dir_fd=fd)   # ELOOP on a symlink
                os.close(fd)
                fd = nfd
        finally:
            os.close(fd)
    except OSError as exc:
        raise errors.Internal("mount point %s: %s" % (dest, exc)) from None
    finally:
        os.close(root_fd)
    return os.path.join(root, *parts)


def legacy_mount_points(upper, lowers):
    """The INIT_PATHS (relative) that runc created empty in an upperdir without init layer."""
    out = set()
    for path in INIT_PATHS:
        rel = path.lstrip("/")
        try:
            st = os.lstat(os.path.join(upper, rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _empty(st, upper, rel) and lower_stat(lowers, rel) is None:
            out.add(rel)
    return out


def upper_changes(upper, lowers, hide_init_paths=True):
    """moby's overlay changes (pkg/archive changes()): walk the upperdir in lexical order;
    whiteouts (0/0 char devices) are deletions, an opaque directory that hid a lower one is a
    deletion followed by its contents as additions; everything else is a modification when the
    lower layers have it (a directory only if its size, mode or mtime differ), else an
    addition. The parent of an addition or deletion is always reported as modified.
    hide_init_paths: leave out runtime mount points (a snapshot without init layer)."""
    out = []
    changed_dirs = set()

    def walk(rel, hidden):
        full = os.path.join(upper, rel) if rel else upper
        try:
            names = sorted(os.listdir(full))
        except OSError:
            return
        for name in names:
            child = rel + "/" + name if rel else name
            path = "/" + child
            try:
                st = os.lstat(os.path.join(upper, child))
            except FileNotFoundError:
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            kind = None
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                kind = KIND_DELETED
            opaque = is_dir and _opaque(os.path.join(upper, child))
            lst = None if hidden else lower_stat(lowers, child)
            if kind == KIND_DELETED:
                pass
            elif opaque and lst is not None:
                kind = KIND_DELETED
            else:
                if lst is None:
                    kind = KIND_ADDED
                elif (is_dir and stat.S_ISDIR(lst.st_mode) and st.st_size == lst.st_size
                      and st.st_mode == lst.st_mode and int(st.st_mtime) == int(lst.st_mtime)):
                    kind = None     # a directory copied up only because of its children
                else:
                    kind = KIND_MODIFIED
            if (hide_init_paths and kind == KIND_ADDED and path in INIT_PATHS
                    and _empty(st, upper, child)):
                kind = None
            if kind is not None:
                if is_dir:
                    changed_dirs.add(path)
                if kind in (KIND_ADDED, KIND_DELETED):
                    parent = os.path.dirname(path)
                    if parent != "/" and parent not in changed_dirs:
                        out.append((parent, KIND_MODIFIED))
                        changed_dirs.add(parent)
                out.append((path, kind))
            if is_dir:
                walk(child, hidden or opaque)

    walk("", False)
    return out


def _empty(st, upper, rel):
    if stat.S_ISDIR(st.st_mode):
        try:
            return not os.listdir(os.path.join(upper, rel))
        except OSError:
            return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def _opaque(path):
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def lower_stat(lowers, rel):
    """lstat of rel in the merged view of the lower layers (top first), None if absent: a
    whiteout hides it; a non-directory on the way or an opaque parent hides the layers below."""
    parts = rel.split("/")
    for layer in lowers:
        cur = layer
        hides_below = False
        for i, part in enumerate(parts):
            cur = os.path.join(cur, part)
            try:
                st = os.lstat(cur)
            except (FileNotFoundError, NotADirectoryError):
                break
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None              # whited out in this layer
            if i == len(parts) - 1:
                return st
            if not stat.S_ISDIR(st.st_mode):
                return None
            if _opaque(cur):
                hides_below = True
        if hides_below:
            return None
    return None
