"""Image layer identities shared by the image-service and the apiserver (OCI image spec)."""

import hashlib


def chain_ids(diff_ids):
    """OCI chain ids: chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n))."""
    out = []
    for d in diff_ids:
        out.append(d if not out else
                   "sha256:" + hashlib.sha256((out[-1] + " " + d).encode()).hexdigest())
    return out
