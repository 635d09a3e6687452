"""Mount the rootfs Mount list into a bundle (mount(2) through ctypes) and take it down again."""

import ctypes
import errno
import os

from dockyard_common import errors

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MS_PRIVATE, MS_SLAVE = 1 << 18, 1 << 19
MNT_DETACH = 2
MAX_DATA = 4000   # mount(2) copies at most one page of data

_FLAGS = {"ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
          "bind": MS_BIND, "rbind": MS_BIND | MS_REC}
_IGNORED = {"rw", "suid", "dev", "exec", "defaults"}

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def split_options(options):
    """(flags, data string) from fstab-style options."""
    flags, data = 0, []
    for opt in options:
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        elif opt in _IGNORED:
            continue
        else:
            data.append(opt)
    return flags, ",".join(data)


def _mount(source, target, fstype, flags, data):
    rc = _lib().mount(source.encode() if source else None, target.encode(),
                      fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s on %s (%s): %s" % (source, target, fstype, os.strerror(err)))


def mount_one(mount, target):
    flags, data = split_options(mount.options)
    if flags & MS_BIND:
        # A bind ignores most flags on the first call; read-only needs a remount.
        _mount(mount.source, target, None, flags & (MS_BIND | MS_REC), "")
        if flags & ~(MS_BIND | MS_REC):
            _mount("", target, None, flags | MS_REMOUNT | MS_BIND, "")
        return
    if mount.type == "overlay" and len(data) > MAX_DATA:
        _mount_overlay_relative(mount, target, flags, data)
        return
    _mount(mount.source or mount.type, target, mount.type, flags, data)


def _mount_overlay_relative(mount, target, flags, data):
    """Many layers overflow mount(2)'s one-page data limit: as containerd does, give the dirs
    relative to their common parent, from a child process whose cwd is that parent (a thread
    of this process must not chdir)."""
    keys = ("lowerdir=", "upperdir=", "workdir=")
    paths = []
    for opt in data.split(","):
        if opt.startswith(keys):
            paths += opt.split("=", 1)[1].split(":")
    common = os.path.commonpath(paths)
    out = []
    for opt in data.split(","):
        if opt.startswith(keys):
            k, v = opt.split("=", 1)
            opt = k + "=" + ":".join(os.path.relpath(p, common) for p in v.split(":"))
        out.append(opt)
    rel = ",".join(out)
    if len(rel) > MAX_DATA:
        raise OSError(errno.E2BIG, "overlay options too long even when relative")
    import subprocess
    opts = rel + ("," + ",".join(o for o in mount.options if o in _FLAGS) if flags else "")
    res = subprocess.run(["mount", "-t", "overlay", "-o", opts, mount.source or "overlay", target],
                         cwd=common, capture_output=True, text=True)
    if res.returncode != 0:
        raise OSError(errno.EINVAL, "mount overlay on %s: %s" % (target, res.stderr.strip()))


def unmount(target):
    """Unmount everything at target (lazily if busy); missing or unmounted is fine."""
    for _ in range(8):
        if not is_mountpoint(target):
            return
        if _lib().umount2(target.encode(), 0) != 0:
            err = ctypes.get_errno()
            if err in (errno.EINVAL, errno.ENOENT):
                return
            if _lib().umount2(target.encode(), MNT_DETACH) != 0:
                raise OSError(ctypes.get_errno(), "umount %s failed" % target)


def is_mountpoint(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == path:
                return True
    return False


class Mounter:
    """Performs a list of types.v1.Mount into a rootfs directory."""

    def mount_all(self, mounts, rootfs):
        done = []
        try:
            for m in mounts:
                target = rootfs if not m.target else os.path.join(rootfs, m.target.lstrip("/"))
                mount_one(m, target)
                done.append(target)
        except OSError as exc:
            for target in reversed(done):
                unmount(target)
            raise errors.InvalidArgument("failed to mount rootfs: %s" % exc) from None

    def unmount_all(self, rootfs):
        unmount(rootfs)


class FakeMounter:
    def __init__(self):
        self.mounted = set()

    def mount_all(self, mounts, rootfs):
        self.mounted.add(rootfs)

    def unmount_all(self, rootfs):
        self.mounted.discard(rootfs)
