"""Busybox root filesystems for integration tests: a directory to bind as a container's root, or
the tar of one to `docker import`. /bin/busybox is static, so one binary is a whole userland."""

import io
import os
import shutil
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"
PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
GROUP = "root:x:0:\n"


def applets():
    """Every applet this busybox has."""
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout
    return [a for a in out.split() if a != "busybox"]


def make_rootfs(path, dirs=("tmp",), commands=None, passwd=PASSWD, group=GROUP, files=None):
    """A busybox root at path: bin/ with busybox and a symlink per command (every applet by
    default), etc/passwd and etc/group, the other dirs (tmp world-writable, as in images) and
    files ({relative path: text}). Returns path."""
    for d in ("bin", "etc") + tuple(dirs):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    if "tmp" in dirs:
        os.chmod(os.path.join(path, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for name in applets() if commands is None else commands:
        link = os.path.join(path, "bin", name)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    for rel, text in dict({"etc/passwd": passwd, "etc/group": group}, **(files or {})).items():
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return path


# The rootfs the shim and container-service tests bind as a container's root: the dirs runc
# mounts on, and users root, app (1000, also in staff) and nobody.
CONTAINER_DIRS = ("proc", "sys", "dev", "tmp", "root", "home/app")
CONTAINER_PASSWD = PASSWD + ("app:x:1000:1000:app:/home/app:/bin/sh\n"
                             "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
CONTAINER_GROUP = GROUP + "app:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"


def make_container_rootfs(path):
    """A container root (see CONTAINER_DIRS) with every busybox applet. Returns path."""
    return make_rootfs(path, CONTAINER_DIRS, passwd=CONTAINER_PASSWD, group=CONTAINER_GROUP)


def tar_of(path):
    """The tar (bytes) of the entries of the directory at path, as `docker import -` reads it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in sorted(os.listdir(path)):
            tar.add(os.path.join(path, entry), arcname=entry)
    return buf.getvalue()
