"""HostConfig.LogConfig checks at container create (moby daemon mergeAndVerifyLogConfig and
logger.ValidateLogOpts). The values (sizes, counts) are checked by shim-runner when the task is
created, as dockerd checks them when the logger starts.
"""

import re
from urllib.parse import quote_plus

from dockyard_common import errors

DEFAULT_DRIVER = "json-file"
# What shim-runner can write: conmon's k8s-file log (read back as json-file/local) or nothing.
SUPPORTED = ("json-file", "local", "none")
# Drivers dockerd 20.10 ships that dockyard cannot write to.
UNSUPPORTED = ("awslogs", "fluentd", "gcplogs", "gelf", "journald", "logentries", "splunk",
               "syslog", "etwlogs")
DRIVER_OPTS = {
    "json-file": {"max-file", "max-size", "compress", "labels", "labels-regex", "env",
                  "env-regex", "tag"},
    "local": {"max-file", "max-size", "compress"},
}
# Options every driver takes (logger.builtInLogOpts and the 20.10 log cache's).
BUILTIN_OPTS = {"mode", "max-buffer-size", "cache-disabled", "cache-max-size", "cache-max-file",
                "cache-compress"}
_RAM_SIZE = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")


def _ram_in_bytes(text):
    """go-units RAMInBytes, only to tell a bad size."""
    m = _RAM_SIZE.match(text)
    if not m:
        raise ValueError("invalid size: '%s'" % text)
    try:
        float(m.group(1))
    except ValueError:
        raise ValueError('strconv.ParseFloat: parsing "%s": invalid syntax' % m.group(1)) from None


def validate(hc):
    """Check HostConfig.LogConfig and fill in the default driver (as inspect then shows it)."""
    cfg = dict(hc.get("LogConfig") or {})
    driver = cfg.get("Type") or DEFAULT_DRIVER
    opts = {str(k): str(v) for k, v in (cfg.get("Config") or {}).items()}
    hc["LogConfig"] = {"Type": driver, "Config": opts}
    if driver == "none":
        return
    mode = opts.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise errors.InvalidArgument("logger: logging mode not supported: %s" % mode)
    if "max-buffer-size" in opts:
        if mode != "non-blocking":
            raise errors.InvalidArgument(
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'")
        try:
            _ram_in_bytes(opts["max-buffer-size"])
        except ValueError as exc:
            raise errors.InvalidArgument("error parsing option max-buffer-size: %s" % exc) from None
    if driver in UNSUPPORTED:
        raise errors.InvalidArgument(
            "logging driver %s is not supported by dockyard (use json-file, local or none)" % driver)
    if driver not in SUPPORTED:
        raise errors.InvalidArgument(
            'error looking up logging plugin %s: plugin "%s" not found' % (driver, driver))
    allowed = DRIVER_OPTS[driver]
    for key in sorted(opts):
        if key in BUILTIN_OPTS or key in allowed:
            continue
        if driver == "local":
            raise errors.InvalidArgument("unknown log opt '%s' for log driver local" % key)
        raise errors.InvalidArgument("unknown log opt '%s' for %s log driver" % (key, driver))


def details_prefix(config, hc):
    """What `docker logs --details` puts before each line: the attributes the json-file driver
    records per line (moby logger.Info.ExtraAttributes: the labels and env the log options name),
    sorted and query-escaped as dockerd's attrsByteSlice writes them, then a space."""
    opts = (hc.get("LogConfig") or {}).get("Config") or {}
    labels = config.get("Labels") or {}
    env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
    extra = {}
    for name in filter(None, opts.get("labels", "").split(",")):
        if name in labels:
            extra[name] = labels[name]
    for pattern, source in ((opts.get("labels-regex"), labels), (opts.get("env-regex"), env)):
        if pattern:
            try:
                rx = re.compile(pattern)
            except re.error:
                continue
            extra.update({k: v for k, v in source.items() if rx.search(k)})
    for name in filter(None, opts.get("env", "").split(",")):
        if name in env:
            extra[name] = env[name]
    pairs = ",".join("%s=%s" % (quote_plus(k, safe=""), quote_plus(v, safe="")) for k, v in sorted(extra.items()))
    return pairs.encode() + b" "
