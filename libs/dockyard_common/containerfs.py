"""Docker's archive API on a container root filesystem mounted at a host directory (moby's
daemon/archive.go): stat a path, tar a path, extract a tar into a directory, export the root.

The shim-runner calls these on a task's mounted rootfs, the image-service on a snapshot it
mounts for the call. Paths are resolved with rootfs_path (symlinks followed inside the root),
tars are read and written with safetar (streamed, never followed through symlinks).
"""

import contextlib
import errno
import os
import posixpath
import stat

from . import errors, ids, oci, rootfs_path, safetar

# Go's os.FileMode type bits (Docker reports modes this way in X-Docker-Container-Path-Stat).
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_SETUID = 1 << 23
MODE_SETGID = 1 << 22
MODE_CHAR_DEVICE = 1 << 21
MODE_STICKY = 1 << 20


def go_file_mode(st_mode):
    """os.FileMode bits of a stat mode, as Go's fillFileStatFromSys builds them."""
    mode = st_mode & 0o777
    fmt = stat.S_IFMT(st_mode)
    mode |= {stat.S_IFBLK: MODE_DEVICE, stat.S_IFCHR: MODE_DEVICE | MODE_CHAR_DEVICE,
             stat.S_IFDIR: MODE_DIR, stat.S_IFIFO: MODE_NAMED_PIPE, stat.S_IFLNK: MODE_SYMLINK,
             stat.S_IFSOCK: MODE_SOCKET}.get(fmt, 0)
    if st_mode & stat.S_ISGID:
        mode |= MODE_SETGID
    if st_mode & stat.S_ISUID:
        mode |= MODE_SETUID
    if st_mode & stat.S_ISVTX:
        mode |= MODE_STICKY
    return mode


def _open_root(root):
    """An fd on the root: a host path, or an open directory fd (duplicated; the shim-runner
    passes /proc/<pid>/root of a running container)."""
    return os.dup(root) if isinstance(root, int) else rootfs_path.open_root(root)


@contextlib.contextmanager
def _root(root_dir):
    fd = _open_root(root_dir)
    try:
        yield fd
    finally:
        os.close(fd)


def _resolve(root_fd, path, follow_last=False):
    """rootfs_path.resolve with Docker's error classes: missing -> NotFound."""
    try:
        return rootfs_path.resolve(root_fd, path, follow_last=follow_last)
    except (FileNotFoundError, NotADirectoryError):
        raise errors.NotFound("Could not find the file %s" % path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise errors.InvalidArgument("%s: too many levels of symbolic links" % path) from None
        raise


def _lstat(res, path):
    try:
        return res.lstat()
    except (FileNotFoundError, NotADirectoryError):
        raise errors.NotFound("Could not find the file %s" % path) from None


def _stat_dict(root_fd, path, res, st):
    link_target = ""
    if stat.S_ISLNK(st.st_mode):
        link_target = rootfs_path.resolve_lenient(root_fd, rootfs_path.clean_abs(path))
    return {"name": rootfs_path.base_name(path), "size": st.st_size,
            "mode": go_file_mode(st.st_mode), "mtime": ids.now_rfc3339(st.st_mtime_ns),
            "link_target": link_target}


def stat_path(root_dir, path):
    """Docker's ContainerPathStat of path: {name, size, mode, mtime, link_target}."""
    path = path or "/"
    with _root(root_dir) as root_fd, _resolve(root_fd, path) as res:
        return _stat_dict(root_fd, path, res, _lstat(res, path))


def archive_get(root_dir, path, skip_devs=()):
    """(stat, chunks): the stat of path and an iterator of a tar of it, whose top entry is named
    after the path's base name (Docker's TarResourceRebase). Lookup errors raise here, before
    any chunk; the iterator keeps its own descriptors until it is exhausted or closed.
    Directories on a filesystem in skip_devs (st_dev values) are archived without contents.

    An empty path is `docker export`: the whole root with entries named relative to it
    ("bin/busybox"), where path "/" gives Docker's archive naming ("/", "/bin/busybox")."""
    export = not path
    path = path or "/"
    root_fd = _open_root(root_dir)
    try:
        res = _resolve(root_fd, path)
        try:
            st = _lstat(res, path)
            info = _stat_dict(root_fd, path, res, st)
        except BaseException:
            res.close()
            raise
    finally:
        os.close(root_fd)
    # Docker's rebase of the root directory is "/": entries "/", "/bin", ... (the CLI uses
    # the base name to rebase the entries it extracts).
    arcname = "" if export else info["name"]

    def chunks():
        with res:
            yield from safetar.tar_tree(res.dir_fd, res.name, arcname,
                                        kept_xattrs=safetar.KEPT_XATTR_PREFIXES,
                                        skip_devs=skip_devs)
    return info, chunks()


def archive_put(root_dir, path, fileobj, no_overwrite_dir_non_dir=False, check=None,
                owner=None):
    """Extract the tar read from fileobj (maybe compressed) into the directory path. The last
    component is followed too when it is a symlink (extracting "to a symlink that points to a
    directory", as moby's containerExtractToDir). Missing -> NotFound, not a directory ->
    InvalidArgument with Docker's message (dockerd: a 500; bad input is a 4xx here). check(resolved in-root path) may refuse the
    destination (see check_writable); owner (uid, gid) overrides every entry's owner."""
    path = path or "/"
    with _root(root_dir) as root_fd, _resolve(root_fd, path, follow_last=True) as res:
        st = _lstat(res, path)
        if not stat.S_ISDIR(st.st_mode):
            raise errors.InvalidArgument("extraction point is not a directory")
        if check is not None:
            check(res.path)
        fd = res.dir_fd if res.name is None else _open_dir(res, path)
        try:
            safetar.extract(fileobj, fd, layer=False,
                            no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, owner=owner)
        finally:
            if fd != res.dir_fd:
                os.close(fd)


READONLY_VOLUME = "mounted volume is marked read-only"
READONLY_ROOTFS = "container rootfs is marked read-only"


def _clean(path):
    return posixpath.normpath("/" + path.lstrip("/"))


def _under(path, dest):
    return path == dest or path.startswith(dest.rstrip("/") + "/")


def mount_points(mounts):
    """(destination, writable) pairs of Mount messages (ArchivePutHeader.mounts)."""
    return [(m.target, "ro" not in m.options) for m in mounts]


def check_writable(path, mounts, readonly_rootfs):
    """Docker's checks before extracting into the resolved in-container path (moby
    checkIfPathIsInAVolume): a path at or below a mount point needs a writable mount (the
    deepest one, the one the container sees), any other path a writable rootfs. mounts are
    (destination, writable) pairs. Both refusals are PermissionDenied: the 403 the API spec names
    (dockerd itself answers a 500)."""
    best = None
    for dest, writable in mounts:
        dest = _clean(dest)
        if _under(path, dest) and (best is None or len(dest) > len(best[0])):
            best = (dest, writable)
    if best is not None:
        if not best[1]:
            raise errors.PermissionDenied(READONLY_VOLUME)
    elif readonly_rootfs:
        raise errors.PermissionDenied(READONLY_ROOTFS)


def lookup_owner(root, user):
    """(uid, gid) of a Docker User string in the root's /etc/passwd and /etc/group, the owner
    `docker cp -a` gives every entry. Docker resolves it the same way but on the host's
    databases; resolving it in the container is what the user means."""
    try:
        uid, gid, _, _ = oci.resolve_user(root, user)
    except errors.InvalidArgument as exc:
        raise errors.InvalidArgument(exc.message) from None
    return uid, gid


def _open_dir(res, path):
    try:
        return os.open(res.name, rootfs_path.DIR_FLAGS, dir_fd=res.dir_fd)
    except OSError:
        raise errors.NotFound("Could not find the file %s" % path) from None


class ChunkReader:
    """A read()-able file over an iterator of byte chunks (a gRPC stream of DataChunk data)."""

    def __init__(self, chunks):
        self._it = iter(chunks)
        self._buf = b""
        self._pos = 0

    def readable(self):
        return True

    def read(self, n=-1):
        if n is None or n < 0:
            out = [self._buf[self._pos:]]
            out.extend(self._it)
            self._buf, self._pos = b"", 0
            return b"".join(out)
        parts, want = [], n
        while want > 0:
            if self._pos >= len(self._buf):
                self._buf = next(self._it, None)
                self._pos = 0
                if self._buf is None:
                    self._buf = b""
                    break
                continue
            piece = self._buf[self._pos:self._pos + want]
            self._pos += len(piece)
            want -= len(piece)
            parts.append(piece)
        return b"".join(parts)
