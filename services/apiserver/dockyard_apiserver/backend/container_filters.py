"""`docker ps --filter` and `container prune --filter` (moby daemon/list.go, as far as useful)."""

import re

from dockyard_common import errors, ids

from ..events import parse_time_ns
from ..webutil import exact_bool
from . import container_health
from . import container_ports
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


_DIGITS = re.compile(r"[0-9]+\Z")


def _parse_uint16(text):
    """Go's strconv.ParseUint(text, 10, 16), with its error wording."""
    if not _DIGITS.match(text):
        raise ValueError('strconv.ParseUint: parsing "%s": invalid syntax' % text)
    value = int(text)
    if value > 0xFFFF:
        raise ValueError('strconv.ParseUint: parsing "%s": value out of range' % text)
    return value


def _port_range(ports):
    """go-connections nat.ParsePortRange: "80" or "8000-8080" (only the first two parts count)."""
    if not ports:
        raise ValueError("Empty string specified for ports.")
    if "-" not in ports:
        start = _parse_uint16(ports)
        return start, start
    parts = ports.split("-")
    start, end = _parse_uint16(parts[0]), _parse_uint16(parts[1])
    if end < start:
        raise ValueError("Invalid range specified for the Port: %s" % ports)
    return start, end


def port_set(key, values):
    """moby's portOp: every "port/proto" the values name ("80", "80/udp", "8000-8080/tcp");
    the protocol defaults to tcp and is kept as written. Errors carry Docker's messages, as 400s (dockerd 20.10: 500s)."""
    out = set()
    for value in values:
        if ":" in value:
            raise errors.InvalidArgument("filter for '%s' should not contain ':': %s" % (key, value))
        parts = value.split("/")     # nat.SplitProtoPort
        if not parts[0]:
            proto, port = "", ""
        elif len(parts) == 1 or not parts[1]:
            proto, port = "tcp", parts[0]
        else:
            proto, port = parts[1], parts[0]
        try:
            start, end = _port_range(port)
        except ValueError as exc:
            raise errors.InvalidArgument("error while looking up for %s %s: %s" % (key, value, exc)) from None
        out.update("%d/%s" % (p, proto) for p in range(start, end + 1))
    return out


def _ports_match(rec, publish, expose):
    """moby includeContainerInList: one of the container's Ports (as `docker ps` shows them,
    so only while its endpoints are live) has its public port in publish or its private port
    in expose. An unpublished port has public port 0."""
    config = views.loads(rec.config_json, {}) or {}
    net = views.loads(rec.network_json, {}) or {}
    for p in container_ports.summary_ports(views.ports_of(config, net)):
        if "%d/%s" % (p.get("PublicPort", 0), p["Type"]) in publish:
            return True
        if "%d/%s" % (p["PrivatePort"], p["Type"]) in expose:
            return True
    return False


class ContainerFilter:
    def __init__(self, filters, backend, prune=False):
        self.f = filters
        self.backend = backend
        keys = PRUNE_KEYS if prune else LIST_KEYS
        for key in filters:
            if key not in keys:
                raise errors.InvalidArgument("Invalid filter '%s'" % key)
        for st in filters.get("status", []):
            if st not in STATUSES:
                raise errors.InvalidArgument(
                    "Invalid filter 'status=%s'" % st)
        # no container of ours is a swarm task: is-task=true matches none
        self._tasks_only = bool(exact_bool(filters, "is-task"))
        container_health.check_filter(filters.get("health", ()))
        self.needs_all = bool(set(filters) & {"status", "exited", "before", "since"}) and \
            filters.get("status") != {"running"}
        self._before = self._since = None
        self._publish = port_set("publish", filters.get("publish") or ())
        self._expose = port_set("expose", filters.get("expose") or ())

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
        if self._tasks_only:
            return False
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
        if f.get("health"):
            health = container_health.view(rec, views.loads(rec.config_json, {}) or {})
            if container_health.status_word(health) not in f["health"]:
                return False
        if f.get("volume"):
            mounts = views.loads(rec.mounts_json, []) or []
            names = {m.get("Name") for m in mounts} | {m.get("Destination") for m in mounts}
            if not any(v in names for v in f["volume"]):
                return False
        if (self._publish or self._expose) and not _ports_match(rec, self._publish, self._expose):
            return False
        return True
