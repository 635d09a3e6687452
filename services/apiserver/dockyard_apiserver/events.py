"""The daemon's event bus: a ring of the last 256 events plus live subscribers (as dockerd's
daemon/events), and Docker's event filters (daemon/events/filter.go)."""

import collections
import datetime
import json
import queue
import threading
import time

from dockyard_common import errors

RING_SIZE = 256
_LEGACY_TYPES = ("container", "image")   # events that still carry "status", "id", "from"


def make_event(type_, action, actor_id, attributes=None, scope="local", time_ns=None):
    """Docker's events.Message as a dict."""
    attributes = {k: str(v) for k, v in (attributes or {}).items()}
    ns = time.time_ns() if time_ns is None else time_ns
    ev = {}
    if type_ in _LEGACY_TYPES:
        ev["status"] = action
        ev["id"] = actor_id
        if type_ == "container" and "image" in attributes:
            ev["from"] = attributes["image"]
    ev.update({"Type": type_, "Action": action,
               "Actor": {"ID": actor_id, "Attributes": attributes},
               "scope": scope, "time": ns // 1_000_000_000, "timeNano": ns})
    return ev


class _Subscriber:
    def __init__(self, match):
        self.match = match
        self.queue = queue.Queue(maxsize=4096)


class EventBus:
    def __init__(self, size=RING_SIZE):
        self._ring = collections.deque(maxlen=size)
        self._subs = []
        self._lock = threading.Lock()

    def emit(self, type_, action, actor_id, attributes=None, scope="local"):
        ev = make_event(type_, action, actor_id, attributes, scope)
        with self._lock:
            self._ring.append(ev)
            subs = list(self._subs)
        for sub in subs:
            if sub.match(ev):
                try:
                    sub.queue.put_nowait(ev)
                except queue.Full:
                    pass  # a stuck reader loses events rather than blocking the daemon
        return ev

    def history(self):
        with self._lock:
            return list(self._ring)

    def subscribe(self, since_ns=None, until_ns=None, filters=None, poll=None):
        """Past events from the ring (when since or until is given), then live ones until
        `until_ns`. `poll()` is called about once a second while idle; when it returns True the
        iteration stops (the HTTP client went away)."""
        flt = EventFilter(filters or {})
        sub = _Subscriber(flt.match)
        with self._lock:
            past = []
            if since_ns is not None or until_ns is not None:
                past = [e for e in self._ring
                        if (since_ns is None or e["timeNano"] >= since_ns)
                        and (until_ns is None or e["timeNano"] <= until_ns) and flt.match(e)]
            only_past = until_ns is not None and until_ns <= time.time_ns()
            if not only_past:
                self._subs.append(sub)
        return _Subscription(self, sub, past, until_ns, only_past, poll)

    def _unsubscribe(self, sub):
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)


class _Subscription:
    """Iterator over events; close() unsubscribes (also done when exhausted)."""

    def __init__(self, bus, sub, past, until_ns, only_past, poll):
        self._bus, self._sub = bus, sub
        self._past = collections.deque(past)
        self._until_ns, self._only_past, self._poll = until_ns, only_past, poll
        self._done = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._past:
            return self._past.popleft()
        if self._done or self._only_past:
            self.close()
            raise StopIteration
        while True:
            wait = 1.0
            if self._until_ns is not None:
                left = (self._until_ns - time.time_ns()) / 1e9
                if left <= 0:
                    self.close()
                    raise StopIteration
                wait = min(wait, left)
            try:
                ev = self._sub.queue.get(timeout=wait)
            except queue.Empty:
                if self._poll is not None and self._poll():
                    self.close()
                    raise StopIteration
                continue
            if self._until_ns is not None and ev["timeNano"] > self._until_ns:
                self.close()
                raise StopIteration
            return ev

    def close(self):
        self._done = True
        self._bus._unsubscribe(self._sub)


# ---------------------------------------------------------------------------
# filters
# ---------------------------------------------------------------------------

def parse_filters(text):
    """Docker's filters JSON: {"key": ["v", ...]} or the older {"key": {"v": true}}.
    Returns {key: set(values)}; malformed input raises InvalidArgument."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise errors.InvalidArgument("invalid filter: %s" % exc)
    if not isinstance(raw, dict):
        raise errors.InvalidArgument("invalid filter: expected a JSON object")
    out = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            vals = {k for k, v in values.items() if v}
        elif isinstance(values, list):
            vals = {str(v) for v in values}
        elif isinstance(values, str):
            vals = {values}
        else:
            raise errors.InvalidArgument("invalid filter %r" % key)
        out[key] = vals
    return out


def _exact(flt, key, value):
    vals = flt.get(key)
    return not vals or value in vals


def _fuzzy(flt, key, value):
    vals = flt.get(key)
    if not vals:
        return True
    return value in vals or any(value.startswith(v) for v in vals if v)


def match_labels(flt, labels, key="label"):
    """`label=k` or `label=k=v` (all must match), as filters.Args.MatchKVList."""
    for want in flt.get(key, ()):
        k, eq, v = want.partition("=")
        if k not in labels or (eq and labels[k] != v):
            return False
    return True


def _strip_tag(ref):
    name, _, tag = ref.rpartition(":")
    return name if name and "/" not in tag else ref


class EventFilter:
    def __init__(self, filters):
        # dockerd 20.10 does not validate the keys of /events filters: an unknown one matches all.
        self.f = filters

    def match(self, ev):
        f = self.f
        actor = ev["Actor"]
        attrs = actor.get("Attributes") or {}
        typ = ev["Type"]
        if not _exact(f, "type", typ) or not _exact(f, "scope", ev.get("scope", "local")):
            return False
        for key in ("event", "action"):
            vals = f.get(key)
            if vals and ev["Action"] not in vals and \
                    not any(ev["Action"].startswith(v + ":") for v in vals):
                return False
        for kind in ("container", "network", "volume", "plugin", "daemon", "node"):
            if f.get(kind):
                if not (_fuzzy(f, kind, actor["ID"]) or _fuzzy(f, kind, attrs.get("name", ""))):
                    return False
        if f.get("image"):
            name = attrs.get("name" if typ == "image" else "image", "")
            if not any(_exact(f, "image", x) for x in
                       (actor["ID"], name, _strip_tag(actor["ID"]), _strip_tag(name))):
                return False
        return match_labels(f, attrs)


# ---------------------------------------------------------------------------
# since / until
# ---------------------------------------------------------------------------

def parse_time_ns(value, now_ns=None):
    """`since`/`until` query values: unix seconds ("1700000000", "1700000000.5",
    "1700000000.000000001"), RFC 3339, or a Go duration relative to now ("10m"). None if empty."""
    if value is None or value == "":
        return None
    value = value.strip()
    now_ns = time.time_ns() if now_ns is None else now_ns
    try:
        if "." in value:
            secs, frac = value.split(".", 1)
            if secs.lstrip("-").isdigit() and frac.isdigit():
                return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9])
        elif value.lstrip("-").isdigit():
            return int(value) * 1_000_000_000
        if "T" in value or "-" in value[1:]:
            return _rfc3339_ns(value)
        return now_ns - _duration_ns(value)
    except ValueError:
        raise errors.InvalidArgument("invalid timestamp %r" % value)


def _rfc3339_ns(value):
    v = value.replace("Z", "+00:00")
    frac_ns = 0
    if "." in v:
        head, rest = v.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        frac_ns = int((digits + "000000000")[:9])
        v = head + rest[len(digits):]
    dt = datetime.datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1_000_000_000 + frac_ns


_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}


def _duration_ns(value):
    import re
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if not parts or "".join(a + b for a, b in parts) != value:
        raise ValueError(value)
    return int(sum(float(a) * _UNITS[b] for a, b in parts))
