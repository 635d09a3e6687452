"""Mounting volume mountpoints on the host (Docker's local driver uses mount(2) the same way).

`HostMounter` runs util-linux mount/umount, which parse `o=` into mount flags and data exactly like
moby's mount.Mount. Unit tests use an in-memory fake with the same methods.
"""

import re
import subprocess

from dockyard_common import errors

_TIMEOUT = 60
_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field):
    """Decode the octal escapes (\\040 for a space...) of /proc/self/mountinfo."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_points(mountinfo="/proc/self/mountinfo"):
    """Every mount point of this mount namespace (os.path.ismount misses same-fs bind mounts)."""
    with open(mountinfo) as f:
        return [_unescape(line.split()[4]) for line in f if line.strip()]


def _password_hidden(text, opts):
    for part in opts.split(","):
        if part.startswith("password="):
            text = text.replace(part, "password=********")
    return text


class HostMounter:
    def is_mounted(self, path):
        return path in mount_points()

    def has_mounts_below(self, path):
        prefix = path.rstrip("/") + "/"
        return any(mp == path or mp.startswith(prefix) for mp in mount_points())

    def mount(self, spec, target):
        if not spec.device:
            raise errors.Internal("error while mounting volume '%s': missing device in volume options"
                                  % target)
        cmd = ["mount", "--no-canonicalize"]
        if spec.type:
            cmd += ["-t", spec.type]
        if spec.options:
            cmd += ["-o", spec.options]
        cmd += [spec.device, target]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT)
        if res.returncode != 0:
            detail = _password_hidden((res.stderr or res.stdout).strip(), spec.options)
            raise errors.Internal("error while mounting volume '%s': failed to mount local volume: %s"
                                  % (target, detail))

    def unmount(self, target):
        """Lazily unmount (MNT_DETACH, as moby's mount.Unmount); stacked mounts are all removed."""
        for _ in range(16):
            if not self.is_mounted(target):
                return
            res = subprocess.run(["umount", "-l", target], capture_output=True, text=True,
                                 timeout=_TIMEOUT)
            if res.returncode != 0 and self.is_mounted(target):
                raise errors.Internal("error while unmounting volume path '%s': %s"
                                      % (target, res.stderr.strip()))
        if self.is_mounted(target):
            raise errors.Internal("error while unmounting volume path '%s': still mounted" % target)
