"""`docker ps --filter` and `container prune --filter` (moby daemon/list.go, as far as useful)."""

import re

from dockyard_common import errors, ids

from ..events import parse_time_ns
from . import container_views as views

LIST_KEYS = {"id", "name", "label", "status", "ancestor", "exited", "before", "since",
             "network", "volume", "is-task", "health", "publish", "expose"}
PRUNE_KEYS = {"label", "label!", "until"}
STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}


def _regex_match(patterns, value):
    for p in patterns:
        try:
            if re.search(p, value):
                return True
        except re.error:
            if p in value:
                return True
    return False


def _labels_match(wanted, labels):
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


class ContainerFilter:
    def __init__(self, filters, backend, prune=False):
        self.f = filters
        self.backend = backend
        keys = PRUNE_KEYS if prune else LIST_KEYS
        for key in filters:
            if key not in keys:
                raise errors.InvalidArgument("invalid filter '%s'" % key)
        for st in filters.get("status", []):
            if st not in STATUSES:
                raise errors.InvalidArgument(
                    "invalid filter 'status=%s'" % st)
        self.needs_all = bool(set(filters) & {"status", "exited", "before", "since"}) and \
            filters.get("status") != {"running"}
        self._before = self._since = None

    def prepare(self, recs):
        """Resolve before/since references against the listed records."""
        def created_of(ref):
            for rec in recs:
                if rec.id.startswith(ref) or rec.name == ref.lstrip("/"):
                    return ids.rfc3339_to_ns(rec.created)
            raise errors.NotFound("No such container: %s" % ref)
        if self.f.get("before"):
            self._before = created_of(next(iter(self.f["before"])))
        if self.f.get("since"):
            self._since = created_of(next(iter(self.f["since"])))

    def match(self, rec):
        f = self.f
        st = rec.state
        created = ids.rfc3339_to_ns(rec.created)
        if f.get("id") and not any(rec.id.startswith(v) for v in f["id"]):
            return False
        if f.get("name") and not _regex_match(f["name"], "/" + rec.name):
            return False
        labels = dict(rec.labels)
        if f.get("label") and not _labels_match(f["label"], labels):
            return False
        if f.get("label!") and any(_labels_match([x], labels) for x in f["label!"]):
            return False
        if f.get("status") and views.state_status(st) not in f["status"]:
            return False
        if f.get("exited"):
            if st.running or views.state_status(st) != "exited":
                return False
            if str(st.exit_code) not in f["exited"]:
                return False
        if f.get("ancestor"):
            names = {rec.image, rec.image_id, rec.image_id.split(":", 1)[-1]}
            ok = False
            for a in f["ancestor"]:
                a_norm = a if ":" in a.rsplit("/", 1)[-1] else a + ":latest"
                if a in names or a_norm in names or rec.image_id.split(":", 1)[-1].startswith(a.split(":", 1)[-1]):
                    ok = True
            if not ok:
                return False
        if self._before is not None and created >= self._before:
            return False
        if self._since is not None and created <= self._since:
            return False
        if f.get("until") and created > parse_time_ns(next(iter(f["until"]))):
            return False
        if f.get("network"):
            nets = (views.loads(rec.network_json, {}) or {}).get("networks") or {}
            names = set(nets) | {v.get("network_id", "") for v in nets.values()}
            if not any(n in names for n in f["network"]):
                return False
        if f.get("volume"):
            mounts = views.loads(rec.mounts_json, []) or []
            names = {m.get("Name") for m in mounts} | {m.get("Destination") for m in mounts}
            if not any(v in names for v in f["volume"]):
                return False
        return True
