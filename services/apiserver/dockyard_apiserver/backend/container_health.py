"""Docker's health-check rules as pure functions (moby daemon/health.go, container/health.go of
20.10): config validation and merging, the probe command, the state machine a probe result
drives, and the State.Health view of a record. health.py runs the probes; nothing here does I/O.

A record keeps `health_json` = {"run": StartedAt of the run it describes, "health": State.Health}.
The view derives what Docker's daemon would show at any moment from it and the run state, so it
is right even before the prober has caught up with a start or a stop: a new run shows
"starting" (streak reset, log kept, as initHealthMonitor), and a stopped or paused container
shows "unhealthy" (as CloseMonitorChannel).
"""

import copy
import json

from dockyard_common import errors, ids

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_RETRIES = 3
MIN_DURATION = 1_000_000        # containertypes.MinimumDuration (1ms)
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096

STARTING, HEALTHY, UNHEALTHY, NONE = "starting", "healthy", "unhealthy", "none"
FILTER_VALUES = (STARTING, HEALTHY, UNHEALTHY, NONE)


# ------------------------------------------------------------------ configuration
def validate(healthcheck):
    """dockerd verifyContainerSettings: 400 with Docker's words."""
    if not healthcheck:
        return
    for key in ("Interval", "Timeout"):
        value = int(healthcheck.get(key) or 0)
        if value != 0 and value < MIN_DURATION:
            raise errors.InvalidArgument("%s in Healthcheck cannot be less than 1ms" % key)
    if int(healthcheck.get("Retries") or 0) < 0:
        raise errors.InvalidArgument("Retries in Healthcheck cannot be negative")
    value = int(healthcheck.get("StartPeriod") or 0)
    if value != 0 and value < MIN_DURATION:
        raise errors.InvalidArgument("StartPeriod in Healthcheck cannot be less than 1ms")


def merge(user, image):
    """daemon/commit.go merge(): the image's HEALTHCHECK fills what the user left unset
    (`docker run --health-interval 1s` keeps the image's test)."""
    if not image:
        return user
    if user is None:
        return copy.deepcopy(image)
    out = dict(user)
    if not out.get("Test"):
        out["Test"] = image.get("Test")
    for key in ("Interval", "Timeout", "StartPeriod", "Retries"):
        if not out.get(key) and image.get(key):
            out[key] = image[key]
    return out


def probe_command(config):
    """The argv of a probe, or None when the container has no probe (no test, NONE, unknown)."""
    test = list((config.get("Healthcheck") or {}).get("Test") or [])
    if not test:
        return None
    if test[0] == "CMD":
        return test[1:]
    if test[0] == "CMD-SHELL":
        return list(config.get("Shell") or ["/bin/sh", "-c"]) + test[1:]
    return None


class Settings:
    """Durations (ns) and retries with Docker's defaults for zero values."""

    def __init__(self, healthcheck):
        hc = healthcheck or {}
        self.interval = int(hc.get("Interval") or 0) or DEFAULT_INTERVAL
        self.timeout = int(hc.get("Timeout") or 0) or DEFAULT_TIMEOUT
        self.start_period = int(hc.get("StartPeriod") or 0) or DEFAULT_START_PERIOD
        retries = int(hc.get("Retries") or 0)
        self.retries = retries if retries > 0 else DEFAULT_RETRIES


def go_duration(ns):
    """Go's time.Duration.String(): 500ms, 1.5s, 1m30s, 1h0m0s."""
    ns = int(ns)
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)
    if u < SECOND:
        if u < 1000:
            return "%s%dns" % (sign, u)
        unit, div = ("µs", 1000) if u < 1_000_000 else ("ms", 1_000_000)
        return sign + _fixed(u, div) + unit
    hours, rest = divmod(u, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    out = sign
    if hours:
        out += "%dh" % hours
    if hours or minutes:
        out += "%dm" % minutes
    return out + _fixed(rest, SECOND) + "s"


def _fixed(value, div):
    whole, frac = divmod(value, div)
    if not frac:
        return str(whole)
    digits = len(str(div)) - 1
    return "%d.%s" % (whole, str(frac).rjust(digits, "0").rstrip("0"))


# ------------------------------------------------------------------ probe results
class OutputBuffer:
    """limitedBuffer: keeps the first 4096 bytes, "..." marks that more was written."""

    def __init__(self, limit=MAX_OUTPUT):
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def write(self, chunk):
        keep = max(0, min(self.limit - len(self.data), len(chunk)))
        self.data += chunk[:keep]
        if keep < len(chunk):
            self.truncated = True

    def text(self):
        out = bytes(self.data).decode("utf-8", "replace")
        return out + "..." if self.truncated else out


def result(start_ns, end_ns, exit_code, output):
    return {"Start": ids.now_rfc3339(start_ns), "End": ids.now_rfc3339(end_ns),
            "ExitCode": int(exit_code), "Output": output}


def timeout_result(start_ns, end_ns, timeout_ns):
    return result(start_ns, end_ns, -1, "Health check exceeded timeout (%s)" % go_duration(timeout_ns))


def new_health():
    return {"Status": STARTING, "FailingStreak": 0, "Log": []}


def record_result(health, res, settings, started_at_ns):
    """handleProbeResult: the health after one probe result (a new dict)."""
    out = {"Status": health.get("Status") or STARTING,
           "FailingStreak": int(health.get("FailingStreak") or 0),
           "Log": (list(health.get("Log") or []) + [res])[-MAX_LOG_ENTRIES:]}
    if res["ExitCode"] == 0:
        out["FailingStreak"] = 0
        out["Status"] = HEALTHY
        return out
    if out["Status"] == STARTING:
        # Failures inside the start period do not count until a probe has succeeded.
        if ids.rfc3339_to_ns(res["Start"]) - started_at_ns < settings.start_period:
            return out
    out["FailingStreak"] += 1
    if out["FailingStreak"] >= settings.retries:
        out["Status"] = UNHEALTHY
    return out


# ------------------------------------------------------------------ the record's document
def load_doc(rec):
    try:
        doc = json.loads(rec.health_json) if rec.health_json else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("health"), dict) else None


def dump_doc(run, health):
    return json.dumps({"run": run, "health": health}).encode()


def view(rec, config):
    """Docker's State.Health for a record (None = no health check, or never started with one)."""
    if probe_command(config) is None:
        return None
    st = rec.state
    doc = load_doc(rec)
    if doc is None:
        if not ids.rfc3339_to_ns(st.started_at):
            return None                   # never started: Docker has no Health yet
        doc = {"run": st.started_at, "health": new_health()}   # the prober has not written yet
    health = doc["health"]
    if st.running and doc.get("run") != st.started_at:
        health = dict(health, Status=STARTING, FailingStreak=0)   # a new run (initHealthMonitor)
    if (not st.running or st.paused) and health.get("Status") != UNHEALTHY:
        health = dict(health, Status=UNHEALTHY)                   # monitor closed
    return {"Status": health.get("Status") or STARTING,
            "FailingStreak": int(health.get("FailingStreak") or 0),
            "Log": list(health.get("Log") or [])}


def status_word(health):
    """`docker ps --filter health=` value of a State.Health view."""
    return NONE if health is None else health["Status"]


def status_suffix(health):
    """Health.String() as `docker ps` shows it after "Up 3 seconds"."""
    if health is None:
        return ""
    return " (health: starting)" if health["Status"] == STARTING else " (%s)" % health["Status"]


def check_filter(values):
    for value in values:
        if value not in FILTER_VALUES:
            raise errors.InvalidArgument("Unrecognised filter value for health: %s" % value)
