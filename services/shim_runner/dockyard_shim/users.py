"""Fill an OCI process's user from Docker's User string, resolved inside the mounted rootfs."""

import json

from dockyard_common.oci import (GROUP_ADD_ANNOTATION, USER_ANNOTATION, additional_groups,
                                 resolve_user)


def group_add_of(spec):
    """HostConfig.GroupAdd as build_spec recorded it in the spec's annotations."""
    raw = (spec.get("annotations") or {}).get(GROUP_ADD_ANNOTATION)
    try:
        items = json.loads(raw) if raw else []
    except ValueError:
        items = []
    return [str(item) for item in items] if isinstance(items, list) else []


def apply_spec_user(spec, rootfs):
    """Resolve the container's user and --group-add, when build_spec asked for it."""
    annotations = spec.get("annotations") or {}
    if USER_ANNOTATION in annotations or GROUP_ADD_ANNOTATION in annotations:
        apply_user(spec, rootfs, annotations.get(USER_ANNOTATION) or "", group_add_of(spec))


def apply_user(spec, rootfs, user, group_add=()):
    """Fill spec.process.user and HOME from the rootfs's passwd/group files.

    additionalGids is dockerd's getUser: the primary gid first (CVE-2022-36109), then the user's
    /etc/group memberships, then --group-add.
    """
    uid, gid, extra, home = resolve_user(rootfs, user)
    added = additional_groups(rootfs, list(group_add))
    process = spec.setdefault("process", {})
    process["user"] = {"uid": uid, "gid": gid, "additionalGids": [gid] + list(extra) + added}
    env = process.setdefault("env", [])
    if home and not any(e.startswith("HOME=") for e in env):
        env.append("HOME=" + home)
