"""mount(2) and umount2(2) through ctypes, and this process's /proc/self/mountinfo.

Used by the shim (a container's rootfs), the image-service (a snapshot mounted for docker cp /
export) and the volume-service (volumes with driver options). Options are fstab-style words,
split into flags and data as moby's mount.ParseOptions does; errors are worded as moby's.
"""

import ctypes
import errno
import os
import re
import subprocess
from dataclasses import dataclass

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC = 16, 32, 64, 128
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 1024, 2048, 4096, 16384
MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED = 1 << 17, 1 << 18, 1 << 19, 1 << 20
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24
MNT_DETACH = 2
MAX_DATA = 4000     # mount(2) copies at most one page of data
_PROPAGATION = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED
_MAX_STACKED = 16   # mounts stacked on one target that unmount() takes down

# option -> (clears the flag, flag); moby/sys/mount flags_linux.go
_FLAGS = {
    "defaults": (False, 0), "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "suid": (True, MS_NOSUID), "nosuid": (False, MS_NOSUID),
    "dev": (True, MS_NODEV), "nodev": (False, MS_NODEV),
    "exec": (True, MS_NOEXEC), "noexec": (False, MS_NOEXEC),
    "sync": (False, MS_SYNCHRONOUS), "async": (True, MS_SYNCHRONOUS),
    "dirsync": (False, MS_DIRSYNC), "remount": (False, MS_REMOUNT),
    "mand": (False, MS_MANDLOCK), "nomand": (True, MS_MANDLOCK),
    "atime": (True, MS_NOATIME), "noatime": (False, MS_NOATIME),
    "diratime": (True, MS_NODIRATIME), "nodiratime": (False, MS_NODIRATIME),
    "bind": (False, MS_BIND), "rbind": (False, MS_BIND | MS_REC),
    "unbindable": (False, MS_UNBINDABLE), "runbindable": (False, MS_UNBINDABLE | MS_REC),
    "private": (False, MS_PRIVATE), "rprivate": (False, MS_PRIVATE | MS_REC),
    "shared": (False, MS_SHARED), "rshared": (False, MS_SHARED | MS_REC),
    "slave": (False, MS_SLAVE), "rslave": (False, MS_SLAVE | MS_REC),
    "relatime": (False, MS_RELATIME), "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME), "nostrictatime": (True, MS_STRICTATIME),
}
_LAYER_KEYS = ("lowerdir=", "upperdir=", "workdir=")
_OCTAL = re.compile(r"\\([0-7]{3})")

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class MountError(OSError):
    """A failed mount(2)/umount2(2), worded as moby's mountError."""

    def __init__(self, err, op, source, target, flags=0, data=""):
        text = "%s %s" % (op, source + ":" + target if source else target)
        if flags:
            text += ", flags: %#x" % flags
        if data:
            text += ", data: " + data
        msg = os.strerror(err)
        super().__init__(err, text + ": " + msg[:1].lower() + msg[1:])

    def __str__(self):
        return self.strerror


def parse_options(options):
    """(flags, data) from fstab-style options: a list of words or one comma-separated string."""
    if isinstance(options, str):
        options = options.split(",") if options else []
    flags, data = 0, []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt:
            data.append(opt)
    return flags, ",".join(data)


def _syscall(source, target, fstype, flags, data):
    rc = _lib().mount(source.encode() if source else None, target.encode(),
                      fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None)
    if rc != 0:
        raise MountError(ctypes.get_errno(), "mount", source, target, flags, data)


def mount(source, target, fstype, options=()):
    """Mount as moby's mount.Mount: a bind is remounted to apply its other flags (the first
    call ignores them), propagation is changed by a call of its own."""
    flags, data = parse_options(options)
    plain = flags & ~_PROPAGATION
    if fstype == "overlay" and len(data) > MAX_DATA:
        _mount_overlay_relative(source, target, plain, data, options)
    elif not (plain & MS_REMOUNT) or data:
        _syscall(source, target, fstype, plain, data)
    if plain & MS_BIND and plain & ~(MS_BIND | MS_REC | MS_REMOUNT):
        _syscall("", target, None, plain | MS_REMOUNT, "")
    if flags & _PROPAGATION:
        _syscall("", target, None, flags & (_PROPAGATION | MS_REC), "")


def relative_option(opt, base):
    """An overlay layer option (lowerdir=, upperdir=, workdir=) with its dirs relative to base."""
    key, sep, value = opt.partition("=")
    if sep and key + sep in _LAYER_KEYS:
        value = ":".join(os.path.relpath(p, base) for p in value.split(":"))
    return key + sep + value


def _mount_overlay_relative(source, target, flags, data, options):
    """Many layers overflow mount(2)'s one-page data limit: as containerd does, give the dirs
    relative to their common parent, from a child process whose cwd is that parent (a thread
    of a threaded server must not chdir)."""
    opts = data.split(",")
    common = os.path.commonpath([p for o in opts if o.startswith(_LAYER_KEYS)
                                 for p in o.split("=", 1)[1].split(":")])
    rel = ",".join(relative_option(o, common) for o in opts)
    if len(rel) > MAX_DATA:
        raise MountError(errno.E2BIG, "mount", source, target, flags)
    if isinstance(options, str):
        options = options.split(",")
    words = [o for o in options if o in _FLAGS and not _FLAGS[o][1] & _PROPAGATION]
    res = subprocess.run(["mount", "-t", "overlay", "-o", ",".join([rel] + words),
                          source or "overlay", target], cwd=common, capture_output=True, text=True)
    if res.returncode != 0:
        raise OSError(errno.EINVAL, "mount overlay on %s: %s" % (target, res.stderr.strip()))


def unmount(target, detach=False):
    """Unmount everything stacked at target; missing or not mounted is fine. A busy mount is
    detached (MNT_DETACH); detach=True always does so (moby's mount.Unmount)."""
    path = target.encode()
    for _ in range(_MAX_STACKED):
        if not is_mountpoint(target):
            return
        if _lib().umount2(path, MNT_DETACH if detach else 0) == 0:
            continue
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return
        if detach or _lib().umount2(path, MNT_DETACH) != 0:
            raise MountError(ctypes.get_errno(), "unmount", "", target)
    if is_mountpoint(target):
        raise MountError(errno.EBUSY, "unmount", "", target)


# -- /proc/self/mountinfo ----------------------------------------------------------------------
@dataclass(frozen=True)
class MountInfo:
    mount_point: str
    fstype: str
    source: str
    super_options: str


def _unescape(field):
    """Decode the octal escapes (\\040 for a space...) of /proc/self/mountinfo."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def mountinfo(path="/proc/self/mountinfo"):
    """This mount namespace's mounts, oldest first (so the top one of a stack comes last)."""
    out = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if "-" not in fields[6:]:
                continue
            sep = fields.index("-", 6)
            out.append(MountInfo(_unescape(fields[4]), fields[sep + 1], _unescape(fields[sep + 2]),
                                 fields[sep + 3]))
    return out


def mount_points(path="/proc/self/mountinfo"):
    """Every mount point (os.path.ismount misses same-filesystem bind mounts)."""
    return [m.mount_point for m in mountinfo(path)]


def is_mountpoint(path):
    return os.path.realpath(path) in mount_points()


def mounts_below(path):
    """Mount points at or below path, deepest first (the order to unmount them in)."""
    path = os.path.realpath(path)
    prefix = path.rstrip("/") + "/"
    found = {mp for mp in mount_points() if mp == path or mp.startswith(prefix)}
    return sorted(found, key=len, reverse=True)
