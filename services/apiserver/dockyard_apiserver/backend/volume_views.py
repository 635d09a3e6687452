"""A volume as Docker's API shows it (types.Volume)."""

import re

_FRACTION = re.compile(r"\.\d+(?=Z|[+-]\d\d:\d\d$)")


def created_at(ts):
    """dockerd formats a volume's CreatedAt with time.RFC3339: whole seconds."""
    return _FRACTION.sub("", ts or "")


def volume_json(v):
    return {"CreatedAt": created_at(v.created_at), "Driver": v.driver or "local",
            "Labels": dict(v.labels) or None, "Mountpoint": v.mountpoint, "Name": v.name,
            "Options": dict(v.options) or None, "Scope": v.scope or "local"}
