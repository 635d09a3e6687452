"""`--change` instructions of `docker import` / `docker commit` (Dockerfile lines applied to an
image config, as moby's dockerfile.BuildFromConfig): CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD
USER VOLUME WORKDIR STOPSIGNAL HEALTHCHECK."""

import copy
import posixpath
import re
import shlex

from dockyard_common import errors

from ..build.parser import exec_form_args

ALLOWED = ("cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild",
           "stopsignal", "user", "volume", "workdir")


def apply_changes(config, changes):
    """Return a copy of the image `config` section (Docker's container Config keys: Cmd, Env,
    ...) with the instructions in `changes` (list of strings, each maybe multi-line) applied."""
    cfg = copy.deepcopy(config or {})
    cmd_set = False
    for change in changes or ():
        for line in _logical_lines(change):
            keyword, _, rest = line.strip().partition(" ")
            if not keyword:
                continue
            kw = keyword.lower()
            if kw not in ALLOWED:
                raise errors.InvalidArgument("%s is not a valid change command" % kw)  # lower case, as dockerd
            rest = rest.strip()
            if kw == "cmd":
                cfg["Cmd"] = _command(rest)
                cmd_set = True
            elif kw == "entrypoint":
                cfg["Entrypoint"] = _command(rest)
                if not cmd_set:
                    cfg["Cmd"] = None
            elif kw == "env":
                env = list(cfg.get("Env") or [])
                for k, v in _name_values(rest, "ENV"):
                    keys = [e.split("=", 1)[0] for e in env]
                    if k in keys:
                        env[keys.index(k)] = "%s=%s" % (k, v)   # in place, as the builder
                    else:
                        env.append("%s=%s" % (k, v))
                cfg["Env"] = env
            elif kw == "label":
                labels = dict(cfg.get("Labels") or {})
                labels.update(_name_values(rest, "LABEL"))
                cfg["Labels"] = labels
            elif kw == "expose":
                ports = dict(cfg.get("ExposedPorts") or {})
                for word in _words(rest):
                    for port in expand_port(word):
                        ports[port] = {}
                cfg["ExposedPorts"] = ports
            elif kw == "volume":
                vols = dict(cfg.get("Volumes") or {})
                items = exec_form_args(rest)
                for v in (items if items is not None else _words(rest)):
                    if not v.strip():
                        raise errors.InvalidArgument("VOLUME specified can not be an empty string")
                    vols[v] = {}
                cfg["Volumes"] = vols
            elif kw == "user":
                cfg["User"] = _single(rest, "USER")
            elif kw == "workdir":
                wd = _single(rest, "WORKDIR")
                cfg["WorkingDir"] = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/", wd))
            elif kw == "stopsignal":
                cfg["StopSignal"] = _single(rest, "STOPSIGNAL")
            elif kw == "onbuild":
                trigger = rest.split(None, 1)
                if not trigger:
                    raise errors.InvalidArgument("ONBUILD requires at least one argument")
                if trigger[0].upper() in ("ONBUILD", "FROM", "MAINTAINER"):
                    raise errors.InvalidArgument("%s isn't allowed as an ONBUILD trigger" % trigger[0].upper())
                cfg["OnBuild"] = list(cfg.get("OnBuild") or []) + [
                    " ".join([trigger[0].upper()] + trigger[1:])]
            elif kw == "healthcheck":
                cfg["Healthcheck"] = healthcheck(rest)
    return cfg


def _logical_lines(text):
    """Join backslash continuations; skip comments."""
    out, cur = [], ""
    for raw in text.splitlines() or [""]:
        line = raw.rstrip()
        if not cur and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


def _command(rest):
    items = exec_form_args(rest)
    if items is not None:
        return items
    if not rest:
        return None
    return ["/bin/sh", "-c", rest]


def _words(text):
    try:
        return shlex.split(text, posix=True)
    except ValueError as exc:
        raise errors.InvalidArgument("failed to process %r: %s" % (text, exc))


def _single(rest, name):
    words = _words(rest)
    if len(words) != 1:
        raise errors.InvalidArgument("%s requires exactly one argument" % name)
    return words[0]


def _name_values(rest, name):
    words = _words(rest)
    if not words:
        raise errors.InvalidArgument("%s requires at least one argument" % name)
    if "=" not in words[0]:
        # legacy form: NAME value with spaces
        parts = rest.split(None, 1)
        if len(parts) < 2:
            raise errors.InvalidArgument("%s must have two arguments" % name)
        value = _words(parts[1])
        return [(parts[0], " ".join(value))]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise errors.InvalidArgument("%s names can not be blank" % name if not k
                                         else "Syntax error - can't find = in %r. Must be of the form: name=value" % w)
        out.append((k, v))
    return out


def expand_port(word):
    port, _, proto = word.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise errors.InvalidArgument("invalid proto: %s" % proto)
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", port)
    if not m:
        raise errors.InvalidArgument("invalid containerPort: %s" % port)
    start = int(m.group(1))
    end = int(m.group(2) or start)
    if not (0 < start <= end <= 65535):
        raise errors.InvalidArgument("invalid range specified for container port: %s" % port)
    return ["%d/%s" % (p, proto) for p in range(start, end + 1)]


_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def _duration(text):
    parts = _DUR.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise errors.InvalidArgument("time: invalid duration %r" % text)
    return int(sum(float(a) * _UNITS[b] for a, b in parts))


def healthcheck(rest):
    words = rest.split()
    if words and words[0].upper() == "NONE":
        return {"Test": ["NONE"]}
    hc = {}
    opts = {"--interval": "Interval", "--timeout": "Timeout", "--start-period": "StartPeriod",
            "--start-interval": "StartInterval", "--retries": "Retries"}
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        if flag not in opts:
            raise errors.InvalidArgument("Unknown flag: %s" % flag.lstrip("-"))
        hc[opts[flag]] = int(value) if flag == "--retries" else _duration(value)
    if not words or words[0].upper() != "CMD":
        raise errors.InvalidArgument("Unknown type \"%s\" in HEALTHCHECK (try CMD)" % (words[0] if words else ""))
    cmd = rest[rest.upper().index("CMD") + 3:].strip()
    items = exec_form_args(cmd)
    hc["Test"] = ["CMD"] + items if items is not None else ["CMD-SHELL", cmd]
    return hc
