"""Named network namespaces as bind-mounted files (what `ip netns add` does), without forking.

The service is a threaded gRPC server, so namespace work runs in a short-lived thread of its own:
unshare/setns of CLONE_NEWNET only affect the calling thread, and the thread ends afterwards, so
no other thread ever runs in a container's namespace. Netlink itself goes through pyroute2.
"""

import ctypes
import ctypes.util
import errno
import os
import threading

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(ret, what, path=""):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)), path)


def run_in_thread(fn, *args):
    """Run fn(*args) in a fresh thread and return its result (or raise its exception)."""
    box = {}

    def body():
        try:
            box["result"] = fn(*args)
        except BaseException as exc:  # handed back to the caller
            box["error"] = exc

    t = threading.Thread(target=body, name="netns")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def is_mountpoint(path):
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)
    except OSError:
        return False


def _ensure_shared_dir(netns_dir):
    """Make the netns directory a shared mount, as iproute2 does, so that unmounting a netns
    file here also unmounts the copies other mount namespaces got (else the netns lingers)."""
    os.makedirs(netns_dir, exist_ok=True)
    d = netns_dir.encode()
    if _libc.mount(b"none", d, None, MS_SHARED | MS_REC, None) == 0:
        return
    _check(_libc.mount(d, d, b"none", MS_BIND | MS_REC, None), "bind netns dir", netns_dir)
    _check(_libc.mount(b"none", d, None, MS_SHARED | MS_REC, None), "share netns dir", netns_dir)


def _create_in_thread(path, setup):
    _check(_libc.unshare(CLONE_NEWNET), "unshare", path)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    try:
        _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
               "bind netns", path)
    except OSError:
        os.unlink(path)
        raise
    if setup:
        setup()


def create(path, setup=None):
    """Create a new netns bound at `path`; `setup()` runs inside it (e.g. to bring lo up)."""
    _ensure_shared_dir(os.path.dirname(path))
    run_in_thread(_create_in_thread, path, setup)


def _enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), "setns", path)
    finally:
        os.close(fd)


def run_in(path, fn, *args):
    """Run fn(*args) inside the netns at `path` (in a throwaway thread)."""
    def body():
        _enter(path)
        return fn(*args)
    return run_in_thread(body)


def exists(path):
    """True when `path` is a live netns bind mount (not just a leftover empty file)."""
    return bool(path) and os.path.exists(path) and is_mountpoint(path)


def remove(path):
    """Unmount and unlink a netns file; missing is fine."""
    p = path.encode()
    if _libc.umount2(p, MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        err = ctypes.get_errno()
        raise OSError(err, "umount netns: %s" % os.strerror(err), path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def unmount_dir(netns_dir):
    """Undo _ensure_shared_dir (teardown of a private test netns dir)."""
    while is_mountpoint(netns_dir):
        if _libc.umount2(netns_dir.encode(), MNT_DETACH) != 0:
            break
