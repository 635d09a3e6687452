"""Tar helpers shared by the image-service (layers) and the shim-runner (docker cp): a secure
extractor and a streaming writer.

Extraction: the tar may be hostile. Every entry is created relative to directory file
descriptors opened one component at a time with O_NOFOLLOW, so no symlink (in the tar or already
on disk) is ever followed and nothing can land outside the destination. Entries with ".."
components, hard links whose target is not inside the destination, and device nodes are skipped.
Absolute names are taken relative to the destination. In layer mode OCI whiteouts become overlay
ones (0/0 character devices, the trusted.overlay.opaque xattr).

Writing: a tar is produced as a sequence of byte chunks, header by header, so a tree or a big
file streams without being held in memory.
"""

import errno
import gzip
import logging
import lzma
import os
import shutil
import stat
import tarfile
import zlib

from . import errors

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# xattrs a tar may set and that we archive; trusted.* (overlay metadata among them) and
# security.selinux are not.
KEPT_XATTR_PREFIXES = ("user.", "security.capability")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1024 * 1024
# A corrupt or truncated (maybe compressed) stream; disk errors are not among them.
_BAD_STREAM = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


class Unsafe(Exception):
    """An entry that would escape the destination or follow a symlink: skipped."""


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


# --------------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------------

def unpack_layer(fileobj, dest):
    """Extract the (uncompressed) layer tar read from fileobj (anything with read(n)) into the
    directory dest. Returns the number of bytes of regular files written (Docker's layer size)."""
    root_fd = os.open(dest, _DIR_FLAGS)
    try:
        return extract(Forward(fileobj), root_fd, layer=True, mode="r:", what="layer")
    finally:
        os.close(root_fd)


def extract(fileobj, dest_fd, layer=False, no_overwrite_dir_non_dir=False, mode="r|*",
            what="archive", owner=None):
    """Extract a tar stream into the directory dest_fd (not closed). Layer mode applies
    whiteouts and the root entry's metadata; archive mode (docker cp) keeps ".wh." names as
    plain files and leaves the destination directory itself alone, as Docker's Untar.
    owner (uid, gid) replaces every entry's owner (Docker's ChownOpts, `docker cp -a`).
    Returns the bytes of regular files written."""
    try:
        tar = tarfile.open(fileobj=fileobj, mode=mode)
    except tarfile.TarError as exc:
        raise errors.InvalidArgument("%s is not a valid tar archive: %s" % (what, exc)) from None
    except OSError as exc:
        if not isinstance(fileobj, Forward):
            raise
        raise errors.InvalidArgument("%s is not a valid tar archive: %s" % (what, exc)) from None
    try:
        applier = _Applier(dest_fd, layer, no_overwrite_dir_non_dir, owner)
        try:
            for member in tar:
                try:
                    applier.apply(member, tar)
                except Unsafe as exc:
                    log.warning("skipped tar entry %r: %s", member.name, exc)
                # tarfile remembers every member; we never look back, so a layer of a million
                # files does not pile up TarInfos (its iterator copes with the emptied list).
                del tar.members[:]
        except _BAD_STREAM as exc:
            raise errors.InvalidArgument("%s is not a valid tar archive: %s" % (what, exc)) from None
        applier.finish_dirs()
        return applier.size
    finally:
        tar.close()


class Forward:
    """A stream as tarfile's random-access mode ("r:") wants it, seekable forwards only.

    tarfile's stream mode ("r|") reads in 10 KiB pieces and re-slices its buffer on every read;
    this gives big reads and lets regular files be copied straight to their fd (copy_to).
    read(n) returns exactly n bytes unless the stream ends; seek() skips ahead by reading."""

    def __init__(self, src, chunk=256 * 1024):
        self._src = src.read
        self._chunk = chunk
        self._buf = b""
        self._off = 0          # unread data is _buf[_off:]
        self._pos = 0          # stream offset of _buf[_off]

    def tell(self):
        return self._pos

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, pos, whence=0):
        if whence != 0 or pos < self._pos:
            raise OSError(errno.ESPIPE, "a layer stream can only be read forwards")
        while self._pos < pos:
            if self._off >= len(self._buf) and not self._fill():
                break
            n = min(pos - self._pos, len(self._buf) - self._off)
            self._off += n
            self._pos += n
        return self._pos

    def _fill(self):
        self._buf, self._off = self._src(self._chunk), 0
        return bool(self._buf)

    def read(self, n=-1):
        if n is None or n < 0:
            n = 1 << 62
        end = self._off + n
        if end <= len(self._buf):
            out = self._buf[self._off:end]
            self._off = end
            self._pos += n
            return out
        parts = [self._buf[self._off:]] if self._off < len(self._buf) else []
        got = len(parts[0]) if parts else 0
        self._buf, self._off = b"", 0
        while got < n and self._fill():
            take = min(n - got, len(self._buf))
            parts.append(self._buf if take == len(self._buf) else self._buf[:take])
            self._off = take
            got += take
        self._pos += got
        return b"".join(parts)

    def copy_to(self, fd, size):
        """Write the next size bytes to fd; returns how many there were (fewer at the end)."""
        done = 0
        while done < size:
            if self._off >= len(self._buf) and not self._fill():
                break
            n = min(size - done, len(self._buf) - self._off)
            _write_all(fd, memoryview(self._buf)[self._off:self._off + n])
            self._off += n
            done += n
        self._pos += done
        return done


class _Applier:
    def __init__(self, root_fd, layer, no_overwrite_dir_non_dir, owner=None):
        self.root_fd = root_fd
        self.owner = owner
        self.layer = layer
        self.no_overwrite = no_overwrite_dir_non_dir
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
            if member.isdir() and self.layer:
                self.dirs.append(([], member))
            return
        base = parts[-1]
        pfd = self.open_dir(parts[:-1])
        try:
            if self.layer and base == OPAQUE:
                os.setxattr(pfd, OPAQUE_XATTR, b"y")
                return
            if self.layer and base.startswith(WHITEOUT_PREFIX):
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
        if existing is not None:
            is_dir = stat.S_ISDIR(existing.st_mode)
            if self.no_overwrite and is_dir and not member.isdir():
                raise errors.InvalidArgument("cannot overwrite directory %r with non-directory %r"
                                             % ("/" + "/".join(parts), member.name))
            if self.no_overwrite and not is_dir and member.isdir():
                raise errors.InvalidArgument("cannot overwrite non-directory %r with directory %r"
                                             % ("/" + "/".join(parts), member.name))
            if not (member.isdir() and is_dir):
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
        elif self.layer and member.ischr() and member.devmajor == 0 and member.devminor == 0:
            os.mknod(base, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)  # an overlay-style whiteout
        else:
            raise Unsafe("device nodes and unknown entry types are not extracted")

    def regular(self, pfd, base, member, tar):
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            if isinstance(tar.fileobj, Forward) and member.sparse is None:
                tar.fileobj.seek(member.offset_data)
                if tar.fileobj.copy_to(fd, member.size) != member.size:
                    raise tarfile.ReadError("unexpected end of data")
            else:
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
            raise Unsafe("hard link target %r is outside the destination" % member.linkname)
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
    def _owner(self, member):
        return self.owner if self.owner is not None else (member.uid, member.gid)

    def chown(self, base, member, pfd):
        if self.is_root:
            os.chown(base, *self._owner(member), dir_fd=pfd, follow_symlinks=False)

    def metadata(self, fd, member):
        """Owner, mode, xattrs and mtime on an open (non-symlink) file descriptor."""
        if self.is_root:
            os.fchown(fd, *self._owner(member))
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
        if name.startswith(KEPT_XATTR_PREFIXES):
            yield name, value.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

class TarStream:
    """Builds a tar as a sequence of byte chunks (about CHUNK bytes each)."""

    def __init__(self, mtime=0):
        self.mtime = mtime
        self._pending = []
        self._pending_size = 0
        self._dirs = set()

    def _emit(self, data):
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= CHUNK:
            return self.flush()
        return []

    def flush(self):
        if not self._pending:
            return []
        data = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        return [data]

    def _header(self, name, size, kind=tarfile.REGTYPE, mode=0o644):
        info = tarfile.TarInfo(name)
        info.size, info.type, info.mode, info.mtime = size, kind, mode, self.mtime
        return _tobuf(info)

    def dir(self, name):
        if name in self._dirs:
            return []
        self._dirs.add(name)
        return self._emit(self._header(name.rstrip("/") + "/", 0, tarfile.DIRTYPE, 0o755))

    def add_bytes(self, name, data):
        out = self._emit(self._header(name, len(data)))
        out += self._emit(data + _padding(len(data)))
        return out

    def add_file(self, name, fileobj, size):
        """Yields chunks for a member whose content comes from fileobj (exactly size bytes)."""
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, self.mtime
        yield from self.add(info, fileobj, strict=True)

    def add(self, info, fileobj=None, strict=False):
        """Yields chunks for the member info (content from fileobj for regular files: exactly
        info.size bytes; a file that shrank meanwhile is padded with zeros unless strict)."""
        yield from self._emit(_tobuf(info))
        if not info.isreg() or not info.size:
            return
        remaining = info.size
        while remaining:
            data = fileobj.read(min(CHUNK, remaining))
            if not data:
                if strict:
                    raise errors.Internal("%s is shorter than its recorded size" % info.name)
                data = b"\0" * min(CHUNK, remaining)
            remaining -= len(data)
            yield from self._emit(data)
        yield from self._emit(_padding(info.size))

    def close(self):
        out = self._emit(b"\0" * (2 * tarfile.BLOCKSIZE))
        return out + self.flush()


def _tobuf(info):
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size):
    rem = size % tarfile.BLOCKSIZE
    return b"\0" * (tarfile.BLOCKSIZE - rem) if rem else b""


def tar_tree(dir_fd, name, arcname, out=None, kept_xattrs=("security.capability",),
             skip_devs=()):
    """Yield tar chunks of the entry `name` in dir_fd (name None: dir_fd itself), named arcname
    in the archive ("" for a directory: its children at the top, as `docker export`), with
    directories recursively. Never follows a symlink. Directories whose st_dev is in skip_devs
    (a running container's /proc, /sys, /dev) are archived without their contents. Closes the
    stream (end-of-archive) when `out` is not given."""
    own = out is None
    out = out or TarStream()
    yield from _TreeWriter(out, kept_xattrs, skip_devs).entry(dir_fd, name, arcname)
    if own:
        yield from out.close()


class _TreeWriter:
    def __init__(self, out, kept_xattrs, skip_devs=()):
        self.out = out
        self.kept = tuple(kept_xattrs)
        self.skip_devs = frozenset(skip_devs)
        self.links = {}    # (dev, ino) -> first arcname, for hard links

    def entry(self, dir_fd, name, arcname):
        if name is None:
            st = os.fstat(dir_fd)
        else:
            try:
                st = os.lstat(name, dir_fd=dir_fd)
            except FileNotFoundError:
                return   # removed while we walk (a running container)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            yield from self.directory(dir_fd, name, arcname, st)
        elif stat.S_ISREG(mode):
            yield from self.regular(dir_fd, name, arcname, st)
        elif stat.S_ISLNK(mode):
            info = self.info(arcname, st, tarfile.SYMTYPE)
            try:
                info.linkname = os.readlink(name, dir_fd=dir_fd)
            except OSError:
                return
            yield from self.out.add(info)
        elif stat.S_ISFIFO(mode):
            yield from self.out.add(self.info(arcname, st, tarfile.FIFOTYPE))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info = self.info(arcname, st, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            yield from self.out.add(info)
        # sockets are not archived (as Docker)

    def directory(self, dir_fd, name, arcname, st):
        fd = os.dup(dir_fd) if name is None else _open_or_none(name, _DIR_FLAGS, dir_fd)
        if fd is None:
            return
        try:
            if arcname:
                info = self.info(arcname.rstrip("/") + "/", st, tarfile.DIRTYPE)
                self.add_xattrs(info, fd)
                yield from self.out.add(info)
            if st.st_dev in self.skip_devs:
                return
            prefix = "" if not arcname else arcname.rstrip("/") + "/"
            for child in sorted(os.listdir(fd)):
                yield from self.entry(fd, child, prefix + child)
        finally:
            os.close(fd)

    def regular(self, dir_fd, name, arcname, st):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            info = self.info(arcname, st, tarfile.LNKTYPE)
            info.linkname = self.links[key]
            yield from self.out.add(info)
            return
        fd = _open_or_none(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd)
        if fd is None:
            return
        with os.fdopen(fd, "rb", buffering=0) as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return   # swapped for something else meanwhile
            if st.st_nlink > 1:
                self.links[key] = arcname
            info = self.info(arcname, st, tarfile.REGTYPE)
            info.size = st.st_size
            self.add_xattrs(info, fd)
            yield from self.out.add(info, f)

    def info(self, arcname, st, kind):
        info = tarfile.TarInfo(arcname)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime)
        info.size = 0
        return info

    def add_xattrs(self, info, fd):
        if not self.kept:
            return
        try:
            names = os.listxattr(fd)
        except OSError:
            return
        for attr in names:
            if attr.startswith(self.kept):
                try:
                    value = os.getxattr(fd, attr)
                except OSError:
                    continue
                info.pax_headers["SCHILY.xattr." + attr] = value.decode("utf-8", "surrogateescape")


def _open_or_none(name, flags, dir_fd):
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:   # became a symlink meanwhile
            return None
        raise
