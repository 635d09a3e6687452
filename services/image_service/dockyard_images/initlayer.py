"""A container's init layer (moby daemon/initlayer): the mount points the runtime binds over
(network files, /dev/console, /proc, ...) and /.dockerenv, in a read-only layer between the
image and the container's writable layer. runc then finds every target in place and creates
nothing in the upperdir, so docker diff, commit and cp see a writable layer that starts empty.

Docker fills the layer through its own overlay mount: it unlinks every non-directory on the
way to each path (a file becomes an empty file, a symlinked /dev/shm a directory) and creates
what is missing, leaving existing directories alone. Here the same result is written straight
into the layer's directory, judged against the merged view of the layers below.
"""

import os
import stat

from .fsops import lower_stat

# (path, "dir" | "file" | symlink target), as moby's initlayer.Setup.
ENTRIES = (
    ("/dev/pts", "dir"),
    ("/dev/shm", "dir"),
    ("/proc", "dir"),
    ("/sys", "dir"),
    ("/.dockerenv", "file"),
    ("/etc/resolv.conf", "file"),
    ("/etc/hosts", "file"),
    ("/etc/hostname", "file"),
    ("/dev/console", "file"),
    ("/etc/mtab", "/proc/mounts"),
)
ROOT_UID = ROOT_GID = 0


def populate(layer, lowers):
    """Write the init entries into layer (an empty directory) over lowers (top first)."""
    for path, kind in ENTRIES:
        _add(layer, lowers, path.strip("/").split("/"), kind)


def _add(layer, lowers, parts, kind):
    layers = [layer] + list(lowers)
    # Walk as Docker's unlinks do: the first non-directory (and all below it) is replaced.
    replaced_at = None
    for i in range(len(parts)):
        st = lower_stat(layers, "/".join(parts[:i + 1]))
        if st is None:
            break
        if not stat.S_ISDIR(st.st_mode):
            replaced_at = i
            break
    else:
        return      # the whole path is an existing directory: left as it is
    cur = layer
    for i, part in enumerate(parts[:-1]):
        cur = os.path.join(cur, part)
        if os.path.isdir(cur) and not os.path.islink(cur):
            continue
        rel = "/".join(parts[:i + 1])
        below = lower_stat(lowers, rel) if replaced_at is None or i < replaced_at else None
        _remove_non_dir(cur)
        if below is not None and stat.S_ISDIR(below.st_mode):
            # overlay's copy-up: the directory keeps its mode and owner
            _mkdir(cur, stat.S_IMODE(below.st_mode), below.st_uid, below.st_gid)
        else:
            _mkdir(cur, 0o755, ROOT_UID, ROOT_GID)
    target = os.path.join(cur, parts[-1])
    _remove_non_dir(target)
    if kind == "dir":
        _mkdir(target, 0o755, ROOT_UID, ROOT_GID)
    elif kind == "file":
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o755)
        os.close(fd)
        _chown(target, ROOT_UID, ROOT_GID)
        os.chmod(target, 0o755)     # Docker's OpenFile(O_CREATE, 0755) under umask 022
    else:
        os.symlink(kind, target)
        _chown(target, ROOT_UID, ROOT_GID)


def _remove_non_dir(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)


def _mkdir(path, mode, uid, gid):
    os.mkdir(path, 0o700)
    _chown(path, uid, gid)
    os.chmod(path, mode)        # exact whatever the umask; after chown, which may drop setgid


def _chown(path, uid, gid):
    # Only root can give files away; unit tests run unprivileged and keep their own ids.
    if os.geteuid() == 0:
        os.lchown(path, uid, gid)
