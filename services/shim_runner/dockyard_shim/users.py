"""Fill an OCI process's user from Docker's User string, resolved inside the mounted rootfs."""

from dockyard_common.oci import resolve_user


def apply_user(spec, rootfs, user):
    """Fill spec.process.user and HOME from the rootfs's passwd/group files."""
    uid, gid, extra, home = resolve_user(rootfs, user)
    process = spec.setdefault("process", {})
    process["user"] = {"uid": uid, "gid": gid, **({"additionalGids": list(extra)} if extra else {})}
    env = process.setdefault("env", [])
    if home and not any(e.startswith("HOME=") for e in env):
        env.append("HOME=" + home)
