"""Turn an overlay upperdir into an OCI layer tar (docker commit).

Overlay records a deletion as a 0/0 character device and a replaced directory with the
trusted.overlay.opaque=y xattr; in a layer tar they become ".wh.<name>" and ".wh..wh..opq".
The walk is sorted so the same upperdir always gives the same tar.
"""

import os
import stat
import tarfile

from .unpack import OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX

_KEPT_XATTR_PREFIXES = ("user.", "security.capability")
CHUNK = 1024 * 1024


def write_layer(upperdir, fileobj, skip=()):
    """Write the tar of upperdir's changes to fileobj (only .write() is used); skip: relative
    paths left out (with their contents)."""
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _Walker(upperdir, tar, skip).walk("")


class _Walker:
    def __init__(self, root, tar, skip=()):
        self.root = root
        self.tar = tar
        self.skip = frozenset(skip)
        self.links = {}    # (dev, ino) -> first name, for hard links inside the layer

    def walk(self, rel):
        path = os.path.join(self.root, rel) if rel else self.root
        for name in sorted(os.listdir(path)):
            child = rel + "/" + name if rel else name
            if child not in self.skip:
                self.entry(child)

    def entry(self, rel):
        full = os.path.join(self.root, rel)
        st = os.lstat(full)
        mode = st.st_mode
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            parent, _, base = rel.rpartition("/")
            name = (parent + "/" if parent else "") + WHITEOUT_PREFIX + base
            self.tar.addfile(self._info(name, st, tarfile.REGTYPE))
            return
        if stat.S_ISDIR(mode):
            self.tar.addfile(self._info(rel, st, tarfile.DIRTYPE, full))
            if _getxattr(full, OPAQUE_XATTR) == b"y":
                self.tar.addfile(self._info(rel + "/" + OPAQUE, st, tarfile.REGTYPE))
            self.walk(rel)
            return
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info = self._info(rel, st, tarfile.LNKTYPE)
                info.linkname = self.links[key]
                self.tar.addfile(info)
                return
            self.links[key] = rel
            info = self._info(rel, st, tarfile.REGTYPE, full)
            info.size = st.st_size
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                self.tar.addfile(info, f)
            return
        if stat.S_ISLNK(mode):
            info = self._info(rel, st, tarfile.SYMTYPE)
            info.linkname = os.readlink(full)
            self.tar.addfile(info)
            return
        if stat.S_ISFIFO(mode):
            self.tar.addfile(self._info(rel, st, tarfile.FIFOTYPE, full))
            return
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info = self._info(rel, st, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(info)
        # sockets are not part of a layer

    def _info(self, name, st, kind, full=None):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode) if kind != tarfile.REGTYPE or full else 0o644
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime)
        info.size = 0
        if full and kind in (tarfile.REGTYPE, tarfile.DIRTYPE):
            xattrs = {}
            for attr in _listxattr(full):
                if attr.startswith(_KEPT_XATTR_PREFIXES):
                    value = _getxattr(full, attr)
                    if value is not None:
                        xattrs["SCHILY.xattr." + attr] = value.decode("utf-8", "surrogateescape")
            info.pax_headers = xattrs
        return info


def _listxattr(path):
    try:
        return os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []


def _getxattr(path, name):
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None
