"""Seccomp for containers, as dockerd 20.10 does it (moby profiles/seccomp, daemon/seccomp_linux.go).

Docker's default profile (profiles/seccomp_default.json, see profiles/README.md) or the profile a
user passes with `--security-opt seccomp=<JSON>` is converted per container: a rule is kept only
when its `includes` match and its `excludes` do not (the container's bounding capabilities, this
host's architecture, the running kernel), and the result is the OCI spec's linux.seccomp for runc.
`--privileged`, `seccomp=unconfined` and a profile without defaultAction and syscalls mean no filter.
Execs get the container's filter from runc itself (it applies the container config's seccomp).
"""

import functools
import json
import os
import platform

from . import errors
from .gojsonerrors import json_kind, syntax_error

UNCONFINED = "unconfined"
DEFAULT_PROFILE_PATH = os.path.join(os.path.dirname(__file__), "profiles", "seccomp_default.json")

# uname machine -> (Go GOARCH as the profiles' "arches" name it, libseccomp's native arch).
_ARCHES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "armv6l": ("arm", "SCMP_ARCH_ARM"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "i386": ("x86", "SCMP_ARCH_X86"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "mips64": ("mips64", "SCMP_ARCH_MIPS64"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


# The spellings Go's strconv.ParseBool accepts.
_GO_BOOLS = {"1", "t", "T", "true", "TRUE", "True", "0", "f", "F", "false", "FALSE", "False"}


class ProfileError(Exception):
    """The profile cannot be used; str() is dockerd's message."""


# --security-opt ---------------------------------------------------------------

def parse_security_opts(opts):
    """moby daemon parseSecurityOpt: the seccomp value ("" when none).

    dockerd answers these with a 500; bad input is a 400 here (InvalidArgument), same message.
    """
    profile = ""
    for opt in opts or []:
        if opt in ("no-new-privileges", "disable"):
            continue
        if "=" in opt:
            key, value = opt.split("=", 1)
        elif ":" in opt:  # the separator before Docker 17.04, still accepted
            key, value = opt.split(":", 1)
        else:
            raise errors.InvalidArgument('invalid --security-opt 1: %s' % json.dumps(opt))
        if key == "seccomp":
            profile = value
        elif key == "no-new-privileges":
            if value not in _GO_BOOLS:
                raise errors.InvalidArgument('invalid --security-opt 2: %s' % json.dumps(opt))
        elif key not in ("label", "apparmor"):
            raise errors.InvalidArgument('invalid --security-opt 2: %s' % json.dumps(opt))
    return profile


# per container --------------------------------------------------------------

def linux_seccomp(host_config, bounding_caps, privileged=False):
    """The OCI linux.seccomp for a container, or None for no filter (errors.InvalidArgument if broken)."""
    if privileged:
        return None
    profile = parse_security_opts(host_config.get("SecurityOpt"))
    if profile == UNCONFINED:
        return None
    try:
        if profile:
            return load_profile(profile, bounding_caps)
        return convert(default_profile(), bounding_caps)
    except ProfileError as exc:
        raise errors.InvalidArgument(str(exc)) from None


@functools.lru_cache(maxsize=1)
def _default_profile_text():
    with open(DEFAULT_PROFILE_PATH) as f:
        return f.read()


def default_profile():
    """Docker's default profile, parsed afresh (callers may not share a mutable dict)."""
    return json.loads(_default_profile_text())


def load_profile(body, bounding_caps, machine=None, kernel=None):
    """moby seccomp.LoadProfile: a profile's JSON text converted for this container."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        profile = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError("Decoding seccomp profile failed: %s" % syntax_error(exc, text)) from None
    try:
        return convert(profile, bounding_caps, machine, kernel)
    except (TypeError, AttributeError) as exc:
        # A field of the wrong JSON type: Go's decoder refuses the whole profile.
        raise ProfileError("Decoding seccomp profile failed: json: cannot unmarshal: %s" % exc) \
            from None


def convert(profile, bounding_caps, machine=None, kernel=None):
    """moby setupSeccomp: the rules that apply to these capabilities, arch and kernel.

    Like dockerd 20.10, only defaultAction, architectures and each kept rule's names, action,
    errnoRet and args reach runc (defaultErrnoRet and flags are dropped there too).
    """
    profile = _fold_keys(profile, _PROFILE_KEYS)
    syscalls = profile.get("syscalls") or []
    if not profile.get("defaultAction") and not syscalls:
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise ProfileError("'architectures' and 'archMap' were specified in the seccomp profile, "
                           "use either 'architectures' or 'archMap'")
    go_arch, native = _ARCHES.get(machine or platform.machine(), ("", ""))
    kernel = kernel or _kernel_version()
    caps = set(bounding_caps or [])

    out = {"defaultAction": profile.get("defaultAction") or ""}
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        entry = _fold_keys(entry, _ARCH_KEYS)
        if native and entry.get("architecture") == native:
            arches += [entry["architecture"]] + list(entry.get("subArchitectures") or [])
            break
    if arches:
        out["architectures"] = arches

    rules = []
    for call in syscalls:
        call = _fold_keys(call, _SYSCALL_KEYS)
        names = list(call.get("names") or [])
        if call.get("name"):
            if names:
                raise ProfileError("'name' and 'names' were specified in the seccomp profile, "
                                   "use either 'name' or 'names'")
            names = [call["name"]]
        if _excluded(call.get("excludes"), caps, go_arch, kernel) or \
                not _included(call.get("includes"), caps, go_arch, kernel):
            continue
        rule = {"names": names, "action": call.get("action") or ""}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        if call.get("args"):
            rule["args"] = [_fold_keys(a, _ARG_KEYS) for a in call["args"]]
        rules.append(rule)
    if rules:
        out["syscalls"] = rules
    return out


def _excluded(flt, caps, go_arch, kernel):
    if not flt:
        return False
    flt = _fold_keys(flt, _FILTER_KEYS)
    if go_arch in (flt.get("arches") or []):
        return True
    if any(c in caps for c in flt.get("caps") or []):
        return True
    return bool(flt.get("minKernel")) and kernel >= _min_kernel(flt["minKernel"])


def _included(flt, caps, go_arch, kernel):
    if not flt:
        return True
    flt = _fold_keys(flt, _FILTER_KEYS)
    if flt.get("arches") and go_arch not in flt["arches"]:
        return False
    if any(c not in caps for c in flt.get("caps") or []):
        return False
    return not flt.get("minKernel") or kernel >= _min_kernel(flt["minKernel"])


def _min_kernel(value):
    """moby KernelVersion.UnmarshalJSON: "<kernel>.<major>" as a tuple."""
    shown = json.dumps(value)
    bad = 'Decoding seccomp profile failed: invalid kernel version: %s, expected "<kernel>.<major>"'
    if not isinstance(value, str):
        raise ProfileError(bad % shown)
    parts = value.split(".", 2)
    if len(parts) != 2 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ProfileError(bad % shown)
    version = (int(parts[0]), int(parts[1]))
    if version == (0, 0):
        raise ProfileError((bad + ": version cannot be 0.0") % shown)
    return version


def _kernel_version():
    release = platform.release()
    nums = []
    for part in release.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit()) or "0"
        nums.append(int(digits))
    return tuple((nums + [0, 0])[:2])


# Go's encoding/json matches object keys case-insensitively: so do we, for the keys moby reads.
_PROFILE_KEYS = ("defaultAction", "architectures", "archMap", "syscalls")
_ARCH_KEYS = ("architecture", "subArchitectures")
_SYSCALL_KEYS = ("name", "names", "action", "errnoRet", "args", "includes", "excludes")
_FILTER_KEYS = ("caps", "arches", "minKernel")
_ARG_KEYS = ("index", "value", "valueTwo", "op")


def _fold_keys(obj, keys):
    if not isinstance(obj, dict):
        raise ProfileError("Decoding seccomp profile failed: json: cannot unmarshal %s into Go "
                           "value of type seccomp.Seccomp" % json_kind(obj))
    wanted = {k.lower(): k for k in keys}
    out = {}
    for key, value in obj.items():
        canon = wanted.get(key.lower())
        if canon and (canon not in out or key == canon):
            out[canon] = value
    return out

