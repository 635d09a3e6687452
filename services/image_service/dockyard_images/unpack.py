"""Apply a layer tar to a directory, safely, turning OCI whiteouts into overlay ones.

A layer may be hostile. Every entry is created relative to directory file descriptors opened
one component at a time with O_NOFOLLOW, so no symlink (in the tar or already on disk) is ever
followed and nothing can land outside the layer directory. Entries with ".." components, hard
links whose target is not inside the layer, and device nodes (other than whiteouts) are skipped.
Absolute names are taken relative to the layer root.
"""

import errno
import logging
import os
import shutil
import stat
import tarfile

from dockyard_common import errors

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# xattrs a layer may set; trusted.* (overlay metadata among them) and security.selinux are not.
_ALLOWED_XATTR_PREFIXES = ("user.", "security.capability")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1024 * 1024


class Unsafe(Exception):
    """An entry that would escape the layer directory or follow a symlink: skipped."""


def clean_parts(name):
    """Split a tar name into components; None if it has a ".." component."""
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            return None
        parts.append(part)
    return parts


def unpack(fileobj, dest):
    """Extract the (uncompressed) layer tar read from fileobj into dest. Returns the number of
    bytes of regular files written (Docker's layer size)."""
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r|")
    except tarfile.TarError as exc:
        raise errors.InvalidArgument("layer is not a valid tar archive: %s" % exc) from None
    root_fd = os.open(dest, _DIR_FLAGS)
    try:
        applier = _Applier(root_fd)
        try:
            for member in tar:
                try:
                    applier.apply(member, tar)
                except Unsafe as exc:
                    log.warning("skipped layer entry %r: %s", member.name, exc)
        except tarfile.TarError as exc:
            raise errors.InvalidArgument("layer is not a valid tar archive: %s" % exc) from None
        applier.finish_dirs()
        return applier.size
    finally:
        os.close(root_fd)
        tar.close()


class _Applier:
    def __init__(self, root_fd):
        self.root_fd = root_fd
        self.size = 0
        self.dirs = []           # (parts, member): metadata applied last, after their content
        self.is_root = os.geteuid() == 0

    # -- path walking -------------------------------------------------------------------------
    def open_dir(self, parts, create=True):
        """Open the directory parts (relative to the root) without following any symlink."""
        fd = os.dup(self.root_fd)
        try:
            for part in parts:
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise Unsafe("%s does not exist" % "/".join(parts))
                    os.mkdir(part, 0o755, dir_fd=fd)
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise Unsafe("path component %r is not a directory" % part) from None
                    raise
                os.close(fd)
                fd = nfd
            return fd
        except BaseException:
            os.close(fd)
            raise

    # -- entries ------------------------------------------------------------------------------
    def apply(self, member, tar):
        parts = clean_parts(member.name)
        if parts is None:
            raise Unsafe("'..' in path")
        if not parts:
            if member.isdir():
                self.dirs.append(([], member))
            return
        base = parts[-1]
        pfd = self.open_dir(parts[:-1])
        try:
            if base == OPAQUE:
                os.setxattr(pfd, OPAQUE_XATTR, b"y")
                return
            if base.startswith(WHITEOUT_PREFIX):
                self.whiteout(pfd, base[len(WHITEOUT_PREFIX):])
                return
            self.create(pfd, base, parts, member, tar)
        finally:
            os.close(pfd)

    def whiteout(self, pfd, name):
        if name in ("", ".", "..") or "/" in name:
            raise Unsafe("bad whiteout name")
        _remove(pfd, name)
        os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)

    def create(self, pfd, base, parts, member, tar):
        existing = _lstat(pfd, base)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            _remove(pfd, base)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(base, 0o700, dir_fd=pfd)
            self.dirs.append((parts, member))
        elif member.isreg():
            self.regular(pfd, base, member, tar)
        elif member.issym():
            os.symlink(member.linkname, base, dir_fd=pfd)
            self.chown(base, member, pfd)
            os.utime(base, ns=_mtime_ns(member), dir_fd=pfd, follow_symlinks=False)
        elif member.islnk():
            self.hardlink(pfd, base, member)
        elif member.isfifo():
            os.mkfifo(base, 0o600, dir_fd=pfd)
            self.finish_node(pfd, base, member)
        elif member.ischr() and member.devmajor == 0 and member.devminor == 0:
            os.mknod(base, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)  # an overlay-style whiteout
        else:
            raise Unsafe("device nodes and unknown entry types are not allowed in layers")

    def regular(self, pfd, base, member, tar):
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            src = tar.extractfile(member)
            while True:
                data = src.read(CHUNK)
                if not data:
                    break
                _write_all(fd, data)
            self.size += member.size
            self.metadata(fd, member)
        finally:
            os.close(fd)

    def hardlink(self, pfd, base, member):
        target = clean_parts(member.linkname)
        if not target:
            raise Unsafe("hard link target %r is outside the layer" % member.linkname)
        tfd = self.open_dir(target[:-1], create=False)
        try:
            st = _lstat(tfd, target[-1])
            if st is None or stat.S_ISDIR(st.st_mode):
                raise Unsafe("hard link target %r is missing or a directory" % member.linkname)
            os.link(target[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)

    def finish_node(self, pfd, base, member):
        fd = os.open(base, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            self.metadata(fd, member)
        finally:
            os.close(fd)

    # -- metadata -----------------------------------------------------------------------------
    def chown(self, base, member, pfd):
        if self.is_root:
            os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)

    def metadata(self, fd, member):
        """Owner, mode, xattrs and mtime on an open (non-symlink) file descriptor."""
        if self.is_root:
            os.fchown(fd, member.uid, member.gid)
        os.fchmod(fd, member.mode & 0o7777)   # after chown, which clears set-id bits
        for name, value in _xattrs(member):
            try:
                os.setxattr(fd, name, value)
            except OSError as exc:
                log.debug("xattr %s not set on %s: %s", name, member.name, exc)
        os.utime(fd, ns=_mtime_ns(member))

    def finish_dirs(self):
        # Deepest first, so setting a parent's mtime comes after its children are final.
        for parts, member in sorted(self.dirs, key=lambda d: len(d[0]), reverse=True):
            try:
                fd = self.open_dir(parts, create=False)
            except Unsafe:
                continue   # replaced by a later entry
            try:
                self.metadata(fd, member)
            finally:
                os.close(fd)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _lstat(dir_fd, name):
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def _remove(dir_fd, name):
    st = _lstat(dir_fd, name)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)   # fd-based: does not follow symlinks inside
    else:
        os.unlink(name, dir_fd=dir_fd)


def _mtime_ns(member):
    ns = int(member.mtime * 1_000_000_000)
    return (ns, ns)


def _xattrs(member):
    for key, value in (member.pax_headers or {}).items():
        if not key.startswith("SCHILY.xattr."):
            continue
        name = key[len("SCHILY.xattr."):]
        if name.startswith(_ALLOWED_XATTR_PREFIXES):
            yield name, value.encode("utf-8", "surrogateescape")
